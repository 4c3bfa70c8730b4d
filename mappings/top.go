package mappings

// eventTop holds the values of the top-level members that FromMap
// validates and CorrectTimestamp reads (eventMembers, and the four that
// must be objects), nil for one that is absent. The single pass notes
// them as it builds the top-level map, so that validating a decoded event
// costs no map look-ups of its own: with 13 destinations every event is
// decoded 13 times, and FromMap's twenty-odd look-ups were a sixth of
// Decode. A value is the one the map holds under the key (for a repeated
// key, the last, as in the map); absent and null both read as nil, which
// FromMap and CorrectTimestamp treat alike.
type eventTop struct {
	typ, messageID, event                     any
	userID, anonymousID, groupID, previousID  any
	timestamp, originalTimestamp              any
	sentAt, receivedAt                        any
	traits, properties, context, integrations any
	// into is where fromTop builds the Event: the single pass allocates
	// it with the event's first slabs (box.go); nil otherwise.
	into *Event
}

// note records v as the value of the top-level member k, when k is one
// eventTop holds.
func (t *eventTop) note(k string, v any) {
	switch k {
	case "type":
		t.typ = v
	case "messageId":
		t.messageID = v
	case "event":
		t.event = v
	case "userId":
		t.userID = v
	case "anonymousId":
		t.anonymousID = v
	case "groupId":
		t.groupID = v
	case "previousId":
		t.previousID = v
	case "timestamp":
		t.timestamp = v
	case "originalTimestamp":
		t.originalTimestamp = v
	case "sentAt":
		t.sentAt = v
	case "receivedAt":
		t.receivedAt = v
	case "traits":
		t.traits = v
	case "properties":
		t.properties = v
	case "context":
		t.context = v
	case "integrations":
		t.integrations = v
	}
}

// topOf reads the members of an event decoded some other way (the exact
// path, or a map FromMap is handed).
func topOf(raw map[string]any) eventTop {
	return eventTop{
		typ: raw["type"], messageID: raw["messageId"], event: raw["event"],
		userID: raw["userId"], anonymousID: raw["anonymousId"], groupID: raw["groupId"], previousID: raw["previousId"],
		timestamp: raw["timestamp"], originalTimestamp: raw["originalTimestamp"],
		sentAt: raw["sentAt"], receivedAt: raw["receivedAt"],
		traits: raw["traits"], properties: raw["properties"], context: raw["context"], integrations: raw["integrations"],
	}
}
