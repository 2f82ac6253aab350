package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wsify/wsify/broker"
)

// driverValue is a broker driver name, checked when set so a typo fails
// like any other bad flag.
type driverValue string

func (v *driverValue) String() string { return string(*v) }
func (v *driverValue) Set(s string) error {
	s = strings.ToLower(s)
	if !slices.Contains(broker.Drivers, s) {
		return fmt.Errorf("want one of %s", strings.Join(broker.Drivers, ", "))
	}
	*v = driverValue(s)
	return nil
}
