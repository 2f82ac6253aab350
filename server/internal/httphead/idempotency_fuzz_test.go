package httphead_test

import (
	"strings"
	"testing"

	"github.com/wsify/wsify/server/internal/httphead"
)

// FuzzIdempotencyKey holds IdempotencyKey to its contract: a key it takes
// is 1 to 128 visible ASCII characters without braces or quotes, is the
// value itself or the value inside its quotes, and is taken again as is.
func FuzzIdempotencyKey(f *testing.F) {
	for _, s := range []string{"order-42", `"8e03978e-40d5-43e8-bc93-6894a57f9324"`, `""`, `"`, "a b", "{x}", "é", strings.Repeat("k", 129), `"a"b"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		key, ok := httphead.IdempotencyKey(raw)
		if !ok {
			if key != "" {
				t.Fatalf("%q refused with key %q", raw, key)
			}
			return
		}
		if len(key) == 0 || len(key) > httphead.MaxIdempotencyKey || strings.ContainsAny(key, `{}" `) {
			t.Fatalf("%q taken as %q", raw, key)
		}
		for i := 0; i < len(key); i++ {
			if key[i] <= ' ' || key[i] > '~' {
				t.Fatalf("%q taken as %q, byte %d not visible ASCII", raw, key, i)
			}
		}
		if string(raw) != key && string(raw) != `"`+key+`"` {
			t.Fatalf("%q taken as %q", raw, key)
		}
		if again, ok := httphead.IdempotencyKey([]byte(key)); !ok || again != key {
			t.Fatalf("%q: the key %q read again is %q, %v", raw, key, again, ok)
		}
	})
}
