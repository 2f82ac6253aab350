package main

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// Values of the limit settings, where 0 on the command line means "off".
// server.Config reads 0 as "the default" and any negative value as off
// (its one rule), so off is stored as -1 there.

// offIntValue is a count where 0 turns the limit off.
type offIntValue int

func (v *offIntValue) String() string { return strconv.Itoa(max(0, int(*v))) }
func (v *offIntValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return errors.New("want a whole number, 0 for no limit")
	}
	*v = offIntValue(n)
	if n == 0 {
		*v = -1
	}
	return nil
}

// offDurationValue is a duration where 0 turns the feature off.
type offDurationValue time.Duration

func (v *offDurationValue) String() string { return time.Duration(max(0, *v)).String() }
func (v *offDurationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return errors.New("want a Go duration such as 30s, or 0 for off")
	}
	*v = offDurationValue(d)
	if d == 0 {
		*v = -1
	}
	return nil
}

// listValue is a comma-separated list; blanks around items are dropped.
type listValue []string

func (v *listValue) String() string { return strings.Join(*v, ",") }
func (v *listValue) Set(s string) error {
	*v = nil
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*v = append(*v, item)
		}
	}
	return nil
}
