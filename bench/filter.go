package bench

import (
	"errors"
	"fmt"
	"strings"
)

// fanout's -filter measures what targeted delivery costs the fan-out.
// The authorizer names the subscribers u0 to u<filterUserCount-1> in turn,
// so every subscriber has an identity, and the publications carry:
//
//	none    nothing: the baseline, with the same identities
//	to      "to" listing every one of those users: each subscriber checks
//	        its user against the list (a hashed set: more than 8 users)
//	        and every one receives, so deliveries stay comparable
//	except  "except" naming a connection id of the server's own form
//	        that no subscriber has (over HTTP), or "echo":false (through
//	        a client's broadcast: the publisher, which has not joined):
//	        each subscriber compares its id, and every one receives
//
// Every subscriber receives every publication in each mode, so the cost
// per delivery compares like for like: the filter's check is paid per
// subscriber, whether it lets it through or not.
const filterUserCount = 10

func (c Config) checkFilter() error {
	switch c.Filter {
	case "":
		return nil
	case "none", "to", "except":
	default:
		return fmt.Errorf("bench: -filter %q: want none, to or except", c.Filter)
	}
	if c.Scenario != "fanout" || c.Addr != "" {
		return errors.New("bench: -filter is for fanout on a self-started server (no -addr)")
	}
	return nil
}

// filterUsers is how many users the authorizer names connections after.
func filterUsers(filter string) int {
	if filter == "" {
		return 0
	}
	return filterUserCount
}

// filterArgs are the members -filter adds to every publication.
func (s *session) filterArgs() ([]byte, error) {
	switch {
	case s.cfg.Filter == "to":
		users := make([]string, filterUserCount)
		for i := range users {
			users[i] = fmt.Sprintf(`"u%d"`, i)
		}
		return []byte(`,"to":[` + strings.Join(users, ",") + `]`), nil
	case s.cfg.Filter != "except":
		return nil, nil
	case s.cfg.Via == "ws":
		return []byte(`,"echo":false`), nil
	}
	id, err := s.auth.client() // a subscriber's, from its join
	if err != nil {
		return nil, err
	}
	node, _, _ := strings.Cut(id, "-")
	return []byte(`,"except":"` + node + `-0"`), nil // numbers start at 1: nobody's
}
