package broker

import "testing"

// TestConfirmationFollowsTheLastCommand drives a tracked wishlist as a
// subscription connection does (changes drained and sent, Redis's
// replies in order) through the races a quick leave and join make: a
// channel is confirmed only by the reply to the last command naming it,
// while it is wanted, and never by a connection that no longer holds it.
func TestConfirmationFollowsTheLastCommand(t *testing.T) {
	conf := newConfirmations()
	a, b := new(int), new(int) // two connections
	wa, wb := newTrackedWishlist(conf, a), newTrackedWishlist(conf, b)
	is := func(step string, want bool) {
		t.Helper()
		if conf.has("ch") != want {
			t.Fatalf("%s: confirmed %v, want %v", step, !want, want)
		}
	}
	wa.set([]byte("ch"), true)
	wa.changes() // SUBSCRIBE 1 sent
	wa.set([]byte("ch"), false)
	is("left before any reply", false)
	wa.answered("ch", true) // reply 1: the channel is no longer wanted
	is("a late reply to a subscribe of a channel left", false)

	wa.set([]byte("ch"), true)
	wa.changes() // SUBSCRIBE 2 sent
	wa.answered("ch", true)
	is("subscribed and answered", true)

	wa.set([]byte("ch"), false)
	is("left: the unsubscribe is not even sent", false)
	wa.changes() // UNSUBSCRIBE 3 sent
	wa.set([]byte("ch"), true)
	wa.changes() // SUBSCRIBE 4 sent
	if !wa.answered("ch", false) {
		t.Fatal("the reply to our unsubscribe taken as Redis's own")
	}
	is("reply 3 (unsubscribed), 4 in flight", false)
	wa.answered("ch", true)
	is("reply 4", true)
	if wa.answered("ch", false) {
		t.Fatal("an unsubscribe Redis made by itself taken as a reply")
	}

	// Leave and join again while the first subscribe is unanswered.
	wa.set([]byte("ch"), false)
	wa.changes() // UNSUBSCRIBE 5 sent
	wa.set([]byte("ch"), true)
	wa.changes() // SUBSCRIBE 6 sent
	wa.set([]byte("ch"), false)
	wa.changes() // UNSUBSCRIBE 7 sent
	wa.set([]byte("ch"), true)
	wa.changes() // SUBSCRIBE 8 sent
	wa.answered("ch", false)
	wa.answered("ch", true)
	is("reply 6 (subscribed), 7 and 8 in flight", false)
	wa.answered("ch", false)
	is("reply 7", false)
	wa.answered("ch", true)
	is("reply 8", true)

	// The channel moves to connection b (its slot moved): a's wish goes,
	// and with it a's confirmation; a's late reply cannot bring it back.
	wa.set([]byte("ch"), false)
	wb.set([]byte("ch"), true)
	wb.changes()
	is("moved, b not answered yet", false)
	wb.answered("ch", true)
	is("b answered", true)
	wa.lost()
	is("a's connection lost: b's confirmation stays", true)
	wb.lost()
	is("b's connection lost", false)

	// A fresh connection subscribes everything it wants.
	wb.all()
	wb.answered("ch", true)
	is("resubscribed on a fresh connection", true)
}
