package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// The defaults of keys the runtime reads through the accessors below, taken
// from their `default` tags so the documented value and the used one
// cannot differ.
var (
	// DefaultConnectWait is nats.connect_wait's default.
	DefaultConnectWait = tagDuration(NATS{}, "ConnectWait")
	// DefaultEmbeddedMaxMemory is nats.embedded.max_memory's default.
	DefaultEmbeddedMaxMemory = tagInt(Embedded{}, "MaxMemory")
	// DefaultSyncInterval is nats.embedded.sync_interval's default.
	DefaultSyncInterval = tagDuration(Embedded{}, "SyncInterval")
)

// ConnectWaitOrDefault is how long serve waits for NATS at start: the
// configured nats.connect_wait (0 when written as 0: do not wait), else
// DefaultConnectWait.
func (n NATS) ConnectWaitOrDefault() time.Duration {
	if n.ConnectWait == nil {
		return DefaultConnectWait
	}
	return n.ConnectWait.D()
}

// SyncPolicy reads nats.embedded.sync_interval as nats-server's options
// take it (server.Options.SyncAlways and SyncInterval): always, or an
// interval; DefaultSyncInterval when unset. Load has checked the value, so
// an unchecked one reads as unset.
func (e Embedded) SyncPolicy() (always bool, interval time.Duration) {
	s := strings.TrimSpace(e.SyncInterval)
	if strings.EqualFold(s, "always") {
		return true, 0
	}
	d, err := ParseDuration(s)
	if s == "" || err != nil {
		return false, DefaultSyncInterval
	}
	return false, d.D()
}

// MaxMemoryOrDefault is the JetStream memory limit of the embedded server
// (server.Options.JetStreamMaxMemory).
func (e Embedded) MaxMemoryOrDefault() int64 {
	if e.MaxMemory == 0 {
		return DefaultEmbeddedMaxMemory
	}
	return e.MaxMemory
}

// checkSyncInterval says what is wrong with a sync_interval value.
func checkSyncInterval(s string) error {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "always") {
		return nil
	}
	d, err := ParseDuration(s)
	if err != nil || d <= 0 {
		return fmt.Errorf("sync_interval %q: want always or a positive duration such as 10s or 2m", s)
	}
	return nil
}

// tagDuration reads the default tag of a Duration (or *Duration) field.
func tagDuration(v any, field string) time.Duration {
	d, err := ParseDuration(tag(v, field))
	if err != nil {
		panic(fmt.Sprintf("config: default of %T.%s: %v", v, field, err))
	}
	return d.D()
}

// tagInt reads the default tag of an integer field.
func tagInt(v any, field string) int64 {
	var n int64
	if _, err := fmt.Sscan(tag(v, field), &n); err != nil {
		panic(fmt.Sprintf("config: default of %T.%s: %v", v, field, err))
	}
	return n
}

func tag(v any, field string) string {
	f, ok := reflect.TypeOf(v).FieldByName(field)
	if !ok {
		panic(fmt.Sprintf("config: %T has no field %s", v, field))
	}
	return f.Tag.Get("default")
}
