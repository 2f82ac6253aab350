// Type declarations of wsify.js. README.md beside this file is the contract.

export type State = "connecting" | "connected" | "disconnected" | "closed";

/** What a "state" listener gets with the state. */
export interface StateInfo {
  /** The close code that ended the connection ("disconnected", "closed"). */
  code?: number;
  /** The close reason ("disconnected", "closed"). */
  reason?: string;
  /** Milliseconds until the next attempt ("disconnected"). */
  delay?: number;
  /** Reconnect attempts since the last connection that lasted maxDelay ("disconnected"). */
  attempt?: number;
}

export interface ClientOptions {
  /** Query parameters added to the URL, e.g. { token }; a function is called at every connect. */
  query?: Record<string, string> | (() => Record<string, string>);
  /** Shortest wait before a reconnect, ms (default 250). */
  minDelay?: number;
  /** Longest wait before a reconnect, ms (default 15000). */
  maxDelay?: number;
  /** Time a reply, or a connection being opened, may take, ms (default 5000). */
  timeout?: number;
  /** Commands kept while disconnected (default 100); past it they reject with queue_full; 0: reject with disconnected. */
  queueSize?: number;
  /** A WebSocket implementation (default: the global WebSocket). */
  WebSocket?: unknown;
}

/** What onMessage gets beside the content. */
export interface MessageMeta {
  channel: string;
  /** The publication's offset in the channel's history; undefined where the server keeps none. */
  offset?: number;
}

/** A connection present in a channel, as presence lists it and join and leave events tell. */
export interface Member {
  /** The connection's id. */
  client: string;
  /** The user the authorizer named at connect; "" when anonymous. */
  user: string;
  /** What the authorizer said about it at connect; absent when nothing. */
  info?: any;
}

export interface JoinOptions {
  onMessage?: (content: any, meta: MessageMeta) => void;
  /** History could not cover a gap: refetch your state. */
  onResync?: (info: { channel: string }) => void;
  /** A connection joined the channel (where its namespace has join_leave); this client's own join too. */
  onJoin?: (who: Member) => void;
  /** A connection left the channel, or closed (where its namespace has join_leave). */
  onLeave?: (who: Member) => void;
  /** Resume with `since` after every reconnect (default true). */
  recover?: boolean;
  /** Resume from this position (a join reply's or a subscription's offset and epoch) on the first join too. */
  since?: { offset: number; epoch: string };
}

export type ErrorCode =
  | "timeout"
  | "disconnected"
  | "closed"
  | "queue_full"
  | "already_joined"
  | "invalid"
  | "bad_frame"
  | "bad_json"
  | "bad_command"
  | "unavailable"
  | "unconfirmed"
  | "unknown_command"
  | "bad_channel"
  | "not_authorized"
  | "too_many_channels"
  | "rate_limited"
  | "not_enabled"
  | "not_joined"
  | "too_large"
  | (string & {});

export class WsifyError extends Error {
  readonly name: "WsifyError";
  /** The server's error code, or one of the client's own: timeout, disconnected, closed, queue_full, already_joined, invalid. */
  readonly code: ErrorCode;
  /** The channel, for errors of a join (a re-join among them). */
  readonly channel?: string;
}

export class Subscription {
  readonly client: Client;
  readonly channel: string;
  /** The last offset delivered: null before any, or where the server keeps no history. */
  readonly offset: number | null;
  /** The epoch of the channel's history the offset belongs to: null where the server keeps none. */
  readonly epoch: string | null;
  /** The channel's latest offset when the last join was answered: null where the server keeps no history. */
  readonly head: number | null;
  /** The last join's answer to its `since`: true, false, or null when it gave none. */
  readonly recovered: boolean | null;
  /** Leaves the channel; nothing more is delivered to this subscription. */
  leave(): Promise<void>;
}

export class Client {
  constructor(url: string, options?: ClientOptions);
  readonly url: string;
  readonly state: State;
  on(event: "state", listener: (state: State, info: StateInfo) => void): () => void;
  on(event: "error", listener: (err: Error) => void): () => void;
  join(channel: string, options?: JoinOptions): Promise<Subscription>;
  /** With raw: true, content is JSON text sent byte for byte. */
  broadcast(
    channel: string,
    content: unknown,
    options?: { echo?: boolean; raw?: boolean },
  ): Promise<{ offset?: number; receivers?: number }>;
  history(channel: string, options?: { limit?: number; since?: number; [k: string]: unknown }): Promise<Record<string, any>>;
  /** Who is in a channel this client has joined (at most 1000, else too_large). */
  presence(channel: string): Promise<{ clients: Member[] }>;
  /** How many connections, and distinct users, are in a channel this client has joined. */
  presenceStats(channel: string): Promise<{ clients: number; users: number }>;
  /** Ends the connection and every reconnect; pending commands reject with closed. */
  close(): void;
}
