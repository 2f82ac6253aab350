package broker_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/internal/brokertest"
	"github.com/wsify/wsify/internal/testutil"
)

// presenceRig is a broker under test for presence, and the Redis keys of
// a channel's presence when it keeps them in Redis.
type presenceRig struct {
	cfg  broker.Config
	rdb  redis.UniversalClient // nil: the memory bus
	keys func(channel string) string
}

func TestMemoryPresence(t *testing.T) {
	testPresence(t, presenceRig{cfg: broker.Config{URL: "memory://presence-" + t.Name()}})
}

func TestRedisPresence(t *testing.T) {
	r := brokertest.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr(), DisableIdentity: true})
	t.Cleanup(func() { rdb.Close() })
	testPresence(t, presenceRig{cfg: broker.Config{Driver: "redis", URL: r.URL(), PresenceTTL: time.Second},
		rdb: rdb, keys: func(ch string) string { return "{wsify:" + ch + "}" }})
}

func TestClusterPresence(t *testing.T) {
	c := brokertest.StartCluster(t, 3, 0)
	cfg := clusterConfig(c)
	cfg.PresenceTTL = time.Second
	testPresence(t, presenceRig{cfg: cfg, rdb: c.Client(), keys: func(ch string) string { return "wsify:{" + ch + "}" }})
}

// TestClusterPresenceOddNames: a name the channel key gives no hash tag
// ("}x") keeps its presence keys in one slot all the same, as history does.
func TestClusterPresenceOddNames(t *testing.T) {
	c := brokertest.StartCluster(t, 3, 0)
	a := open(t, clusterConfig(c))
	testutil.Eventually(t, "up", func() bool { return a.b.Health().Up })
	p := a.b.(broker.Presencer)
	for _, name := range []string{"}x", "{}", "a}{b"} {
		ch := member("c-1", "carol", true)
		ch.Channel = []byte(name)
		p.Change(ch)
		var got broker.PresenceCount
		var err error
		if !testutil.Poll(testutil.Timeout, func() bool {
			got, err = p.Count(context.Background(), []byte(name))
			return got == broker.PresenceCount{Clients: 1, Users: 1}
		}) {
			t.Errorf("channel %q: count %+v, %v", name, got, err)
		}
	}
}

// member is a change of a test's member.
func member(client, user string, joined bool) broker.PresenceChange {
	info := ""
	if user != "" {
		info = `,"info":{"n":"` + strings.ToUpper(user) + `"}`
	}
	return broker.PresenceChange{Channel: []byte("room"), Joined: joined, Keep: true,
		Member: broker.Member{Client: client, User: user, JSON: []byte(`{"client":"` + client + `","user":"` + user + `"` + info + `}`)}}
}

func testPresence(t *testing.T, r presenceRig) {
	a, b := open(t, r.cfg), open(t, r.cfg)
	testutil.Eventually(t, "both up", func() bool { return a.b.Health().Up && b.b.Health().Up })
	pa, pb := a.b.(broker.Presencer), b.b.(broker.Presencer)
	b.Subscribe("room")
	if h, ok := b.b.(broker.Confirmer); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		h.WaitSubscribed(ctx, []byte("room"))
		cancel()
	} else {
		time.Sleep(200 * time.Millisecond) // the cluster driver cannot say when its subscription is in place
	}

	// A node reads its own changes at once; the other's after its writer.
	joined := member("a-1", "alice", true)
	joined.Event = []byte("alice joined")
	pa.Change(joined)
	pa.Change(member("a-2", "", true))
	if got := count(t, pa); got != (broker.PresenceCount{Clients: 2, Users: 1}) {
		t.Fatalf("a node's own changes, read at once: %+v", got)
	}
	b.expect(t, "room", "alice joined") // after the change it tells of
	if got := count(t, pb); got.Clients != 2 {
		t.Fatalf("the other node, once the event came: %+v", got)
	}
	pb.Change(member("b-1", "alice", true))
	pb.Change(member("b-2", "bob", true))
	pb.Change(member("b-2", "bob", true)) // twice is once
	wantCount(t, pb, broker.PresenceCount{Clients: 4, Users: 2})
	wantCount(t, pa, broker.PresenceCount{Clients: 4, Users: 2})
	ms, n, err := pa.Members(context.Background(), []byte("room"), 4)
	slices.SortFunc(ms, func(x, y []byte) int { return strings.Compare(string(x), string(y)) })
	if want := `{"client":"a-1","user":"alice","info":{"n":"ALICE"}} {"client":"a-2","user":""} ` +
		`{"client":"b-1","user":"alice","info":{"n":"ALICE"}} {"client":"b-2","user":"bob","info":{"n":"BOB"}}`; err != nil || n != 4 || joinJSON(ms) != want {
		t.Fatalf("members %s (%d, %v)\nwant %s", joinJSON(ms), n, err, want)
	}
	if ms, n, err := pb.Members(context.Background(), []byte("room"), 3); ms != nil || n != 4 || err != nil {
		t.Fatalf("over the bound: %s %d %v", joinJSON(ms), n, err)
	}

	// Alice stays a user while one of her connections is present.
	pa.Change(member("a-1", "alice", false))
	wantCount(t, pa, broker.PresenceCount{Clients: 3, Users: 2})
	pb.Change(member("b-1", "alice", false))
	pb.Change(member("b-9", "nobody", false)) // never joined
	wantCount(t, pa, broker.PresenceCount{Clients: 2, Users: 1})
	if got := count(t, pa); got != (broker.PresenceCount{Clients: 2, Users: 1}) {
		t.Fatalf("after leaves: %+v", got)
	}
	if c, _ := pa.Count(context.Background(), []byte("elsewhere")); c != (broker.PresenceCount{}) {
		t.Fatalf("a channel nobody is in: %+v", c)
	}
	if r.rdb == nil {
		return
	}
	testMovedMember(t, r, pa, pb)
	testDeadNode(t, r, pa)
	testRewrite(t, r, a, pa)
}

// testMovedMember: a member another node takes over (a handoff: the old
// node removes it, the new one adds it) is kept whichever of the two
// writes lands first in Redis.
func testMovedMember(t *testing.T, r presenceRig, pa, pb broker.Presencer) {
	ctx := context.Background()
	owner := func() string { return r.rdb.HGet(ctx, r.keys("room")+":po", "moved-1").Val() }
	before := count(t, pa)
	plus := broker.PresenceCount{Clients: before.Clients + 1, Users: before.Users + 1}
	for _, newFirst := range []bool{true, false} {
		moved := member("moved-1", "mover", true)
		gone := moved
		gone.Joined = false
		pa.Change(moved)
		testutil.Eventually(t, "a owns it", func() bool { return owner() != "" })
		a := owner()
		if newFirst {
			pb.Change(moved)
			testutil.Eventually(t, "b owns it", func() bool { return owner() != a && owner() != "" })
			pa.Change(gone)
			testutil.Eventually(t, "a's removal landed", func() bool {
				return !r.rdb.HExists(ctx, r.keys("room")+":pn:"+a, "moved-1").Val()
			})
		} else {
			pa.Change(gone)
			testutil.Eventually(t, "a let it go", func() bool { return owner() == "" })
			pb.Change(moved)
		}
		wantCount(t, pa, plus)
		pb.Change(gone)
		wantCount(t, pa, before)
	}
}

// testDeadNode: members of a node whose entry expired stop counting at
// the next read, even more of them than one script call removes.
func testDeadNode(t *testing.T, r presenceRig, p broker.Presencer) {
	ctx := context.Background()
	tag := r.keys("room")
	before := count(t, p)
	past := time.Now().Add(-time.Minute).UnixMilli()
	pipe := r.rdb.Pipeline()
	for i := range 2500 {
		client := fmt.Sprintf("dead-%d", i)
		user := fmt.Sprintf("ghost-%d", i%10)
		pipe.HSet(ctx, tag+":p", client, `{"client":"`+client+`"}`)
		pipe.HIncrBy(ctx, tag+":pu", user, 1)
		pipe.HSet(ctx, tag+":pn:deadbeef", client, user)
		pipe.HSet(ctx, tag+":po", client, "deadbeef")
	}
	pipe.ZAdd(ctx, tag+":px", redis.Z{Score: float64(past), Member: "deadbeef"})
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if got := count(t, p); got != before {
		t.Fatalf("with a dead node's 2500 members: %+v, want %+v", got, before)
	}
	if n := r.rdb.Exists(ctx, tag+":pn:deadbeef").Val(); n != 0 || r.rdb.ZScore(ctx, tag+":px", "deadbeef").Err() != redis.Nil {
		t.Fatal("the dead node's keys are left")
	}
}

// testRewrite: a node whose entry was removed (it was taken for dead)
// writes its members again at its next refresh, within TTL/3.
func testRewrite(t *testing.T, r presenceRig, n *node, p broker.Presencer) {
	ctx := context.Background()
	tag := r.keys("room")
	before := count(t, p)
	node := n.b.Stats().Node
	r.rdb.ZAdd(ctx, tag+":px", redis.Z{Score: 1, Member: node}) // expired long ago
	testutil.Eventually(t, "the node's members written again", func() bool {
		return r.rdb.ZScore(ctx, tag+":px", node).Val() > 1
	})
	if got := count(t, p); got != before {
		t.Fatalf("after the rewrite %+v, want %+v", got, before)
	}
	// A read between the expiry and the refresh would remove them: they
	// come back all the same.
	r.rdb.ZAdd(ctx, tag+":px", redis.Z{Score: 1, Member: node})
	if got := count(t, p); got.Clients >= before.Clients {
		t.Fatalf("an expired node's members still count: %+v", got)
	}
	wantCount(t, p, before)
}

func count(t *testing.T, p broker.Presencer) broker.PresenceCount {
	t.Helper()
	c, err := p.Count(context.Background(), []byte("room"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wantCount(t *testing.T, p broker.Presencer, want broker.PresenceCount) {
	t.Helper()
	var got broker.PresenceCount
	if !testutil.Poll(testutil.Timeout, func() bool { got = count(t, p); return got == want }) {
		t.Fatalf("count %+v, want %+v", got, want)
	}
}

func joinJSON(ms [][]byte) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = string(m)
	}
	return strings.Join(s, " ")
}
