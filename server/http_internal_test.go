package server

import "testing"

// TestUsualJSONContentTypesDoNotAllocate pins the fast path of isJSON:
// every POST /broadcast carries one of these, and mime.ParseMediaType
// allocates.
func TestUsualJSONContentTypesDoNotAllocate(t *testing.T) {
	for _, ct := range []string{"application/json", "application/json; charset=utf-8"} {
		b := []byte(ct)
		if a := testing.AllocsPerRun(100, func() { isJSON(b) }); a != 0 {
			t.Errorf("isJSON(%q) allocates %v times", ct, a)
		}
	}
}
