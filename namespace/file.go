package namespace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File is a namespaces file as read: each field is nil where the file
// leaves it unset, so the defaults fill it.
//
// JSON:
//
//	{"namespaces": {"chat": {"history_size": 100, "history_ttl": "5m", "presence": true, "join_leave": false}}}
//
// TOML (a subset: tables, integers, strings, booleans, # comments):
//
//	[namespaces.chat]
//	history_size = 100
//	history_ttl = "5m"
type File struct {
	Namespaces map[string]Fields `json:"namespaces"`
}

// Fields are one namespace's settings in a file.
type Fields struct {
	HistorySize *int    `json:"history_size"`
	HistoryTTL  *string `json:"history_ttl"`
	Presence    *bool   `json:"presence"`
	JoinLeave   *bool   `json:"join_leave"`
}

func (f Fields) apply(o Options) Options {
	if f.HistorySize != nil {
		o.HistorySize = *f.HistorySize
	}
	if f.HistoryTTL != nil {
		o.HistoryTTL, _ = time.ParseDuration(*f.HistoryTTL) // checked by Read
	}
	if f.Presence != nil {
		o.Presence = *f.Presence
	}
	if f.JoinLeave != nil {
		o.JoinLeave = *f.JoinLeave
	}
	return o
}

// Read reads and checks a namespaces file: TOML when its name ends in
// .toml, JSON otherwise.
func Read(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("namespaces file: %w", err)
	}
	var f *File
	if strings.EqualFold(filepath.Ext(path), ".toml") {
		f, err = parseTOML(b)
	} else {
		f, err = parseJSON(b)
	}
	if err == nil {
		err = f.check()
	}
	if err != nil {
		return nil, fmt.Errorf("namespaces file %s: %w", path, err)
	}
	return f, nil
}

func parseJSON(b []byte) (*File, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	f := new(File)
	if err := d.Decode(f); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("data after the JSON object")
	}
	return f, nil
}

func (f *File) check() error {
	var errs []error
	for name, ns := range f.Namespaces {
		if name == "" || strings.Contains(name, ":") {
			errs = append(errs, fmt.Errorf("namespace %q: a name is non-empty and has no ':'", name))
		}
		if ns.HistorySize != nil && *ns.HistorySize < 0 {
			errs = append(errs, fmt.Errorf("namespace %q: history_size must not be negative, got %d", name, *ns.HistorySize))
		}
		if ns.HistoryTTL != nil {
			if d, err := time.ParseDuration(*ns.HistoryTTL); err != nil || d <= 0 {
				errs = append(errs, fmt.Errorf("namespace %q: history_ttl must be a positive duration such as \"5m\", got %q", name, *ns.HistoryTTL))
			}
		}
	}
	return errors.Join(errs...)
}
