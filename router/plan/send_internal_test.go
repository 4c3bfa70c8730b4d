package plan

import "testing"

// A batch's webhook-id is a function of its body: the same body again, the
// same id; another body, another id (a byte changed, or the same bytes one
// longer).
func TestBatchIDFollowsTheBody(t *testing.T) {
	a := []byte(`[{"messageId":"m1"},{"messageId":"m2"}]`)
	if batchID(a) != batchID(append([]byte(nil), a...)) {
		t.Error("the same body got two ids")
	}
	b := []byte(`[{"messageId":"m1"},{"messageId":"m3"}]`)
	if batchID(a) == batchID(b) {
		t.Error("two bodies got one id")
	}
	if id := batchID(a); len(id) != len("batch_")+24 {
		t.Errorf("id %q: want batch_ and 24 hex digits", id)
	}
}
