package server

import (
	"bufio"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestReadmeCloseCodesMatchTheDisconnectTable: the close codes README.md
// documents are the codes the server can send, no more and no fewer, so a
// client author can rely on the table.
func TestReadmeCloseCodesMatchTheDisconnectTable(t *testing.T) {
	documented := readmeCloseCodes(t, "../README.md")
	sent := map[int]bool{}
	for _, d := range wireDisconnects() {
		if d.code != 0 {
			sent[int(d.code)] = true
		}
	}
	for code := range sent {
		if !documented[code] {
			t.Errorf("the server can close with %d, which README.md's close-code table lacks", code)
		}
	}
	for code := range documented {
		if !sent[code] {
			t.Errorf("README.md documents close code %d, which no disconnect sends", code)
		}
	}
	if t.Failed() {
		t.Logf("README: %v, disconnects: %v", slices.Sorted(maps.Keys(documented)), slices.Sorted(maps.Keys(sent)))
	}
}

// closeCodeRow is a row of the close-code table: | 1000 | why |.
var closeCodeRow = regexp.MustCompile(`^\|\s*(\d{4})\s*\|`)

// readmeCloseCodes returns the codes of the rows under "### Close codes",
// up to the next heading. A missing section fails the test, so renaming
// the heading cannot silently pass it.
func readmeCloseCodes(t *testing.T, path string) map[int]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	codes, in := map[int]bool{}, false
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			if in {
				break
			}
			in = strings.TrimSpace(line) == "### Close codes"
			continue
		}
		if m := closeCodeRow.FindStringSubmatch(line); in && m != nil {
			code, _ := strconv.Atoi(m[1])
			codes[code] = true
		}
	}
	if len(codes) == 0 {
		t.Fatalf("%s has no rows under \"### Close codes\"", path)
	}
	return codes
}
