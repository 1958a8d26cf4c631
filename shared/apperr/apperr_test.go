package apperr

import (
	"errors"
	"fmt"
	"testing"
)

func TestConstructors(t *testing.T) {
	cases := []struct {
		err   *Error
		kind  Kind
		field string
		msg   string
	}{
		{NotFound("Connection", "abc"), KindNotFound, "", `Connection "abc" not found.`},
		{NotFound("Credential", ""), KindNotFound, "", "Credential not found."},
		{Invalid("name", "is required"), KindInvalid, "name", "name: is required."},
		{Invalid("name", "is required. "), KindInvalid, "name", "name: is required."},
		{Invalidf("tags[%d]", "must be 1 to %d characters", 255), KindInvalid, "tags[%d]", "tags[%d]: must be 1 to 255 characters."},
		{BadRequest("value is required."), KindInvalid, "", "value is required."},
		{Rejected("url", "is not https"), KindRejected, "url", "url: is not https."},
		{Exists("Tenant %s already exists; retry.", "t1"), KindExists, "", "Tenant t1 already exists; retry."},
		{Conflict("connection"), KindConflict, "", "The connection was changed by another request at the same time; retry."},
		{TooLarge("too big"), KindTooLarge, "", "too big"},
		{Unavailable("later"), KindUnavailable, "", "later"},
		{Forbidden("No."), KindForbidden, "", "No."},
		{New(KindNotFound, "No hook %q.", "h"), KindNotFound, "", `No hook "h".`},
	}
	for _, c := range cases {
		if c.err.Kind != c.kind || c.err.Field != c.field || c.err.Message != c.msg || c.err.Error() != c.msg {
			t.Errorf("%#v: want kind %s, field %q, message %q", c.err, c.kind, c.field, c.msg)
		}
	}
}

func TestKindOfAndWrap(t *testing.T) {
	cause := errors.New("ConditionalCheckFailed")
	nf := NotFound("Connection", "abc")
	w := nf.Wrap(cause)
	if nf.Err != nil {
		t.Error("Wrap changed its receiver")
	}
	if !errors.Is(w, cause) || w.Error() != `Connection "abc" not found. (ConditionalCheckFailed)` {
		t.Errorf("wrapped: %v", w)
	}
	outer := fmt.Errorf("put: %w", w)
	if KindOf(outer) != KindNotFound || !Is(outer, KindNotFound) || Is(outer, KindConflict) {
		t.Errorf("KindOf(%v) = %s", outer, KindOf(outer))
	}
	if KindOf(cause) != KindInternal || Is(nil, KindInternal) || KindOf(nil) != KindInternal {
		t.Error("a plain error is internal; nil is no kind")
	}
	if e, ok := As(outer); !ok || e.Message != `Connection "abc" not found.` {
		t.Errorf("As = %v, %v", e, ok)
	}
	if KindRejected.String() != "rejected" || Kind(99).String() != "kind(99)" {
		t.Error("Kind.String")
	}
}
