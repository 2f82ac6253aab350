package httphead

// MaxIdempotencyKey is the longest Idempotency-Key value IdempotencyKey
// takes, quotes aside.
const MaxIdempotencyKey = 128

// IdempotencyKey reads the value of an Idempotency-Key header: 1 to
// MaxIdempotencyKey visible ASCII characters other than '{', '}' and '"',
// bare or in double quotes (the IETF httpapi draft's structured string).
// Braces are refused because the key becomes part of a Redis key name
// whose hash tag they would change.
func IdempotencyKey(raw []byte) (key string, ok bool) {
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' {
		raw = raw[1 : n-1]
	}
	if len(raw) == 0 || len(raw) > MaxIdempotencyKey {
		return "", false
	}
	for _, b := range raw {
		if b <= ' ' || b > '~' || b == '{' || b == '}' || b == '"' {
			return "", false
		}
	}
	return string(raw), true
}
