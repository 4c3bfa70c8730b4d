package destinations

import (
	"net/netip"
	"testing"
)

func TestDeniedRange(t *testing.T) {
	cases := map[string]string{
		"10.0.0.5":        "private",
		"172.16.3.4":      "private",
		"192.168.1.1":     "private",
		"fd00::1":         "private",
		"::ffff:10.0.0.1": "private",
		"127.0.0.1":       "loopback",
		"127.8.9.10":      "loopback",
		"::1":             "loopback",
		"169.254.169.254": "link-local",
		"fe80::1%eth0":    "link-local",
		"0.0.0.0":         "unspecified",
		"0.1.2.3":         "unspecified",
		"::":              "unspecified",
		"224.0.0.1":       "link-local",
		"239.1.2.3":       "multicast",
		"ff02::1":         "link-local",
		"ff0e::1":         "multicast",
		"255.255.255.255": "multicast",
		"100.64.1.1":      "shared",
		"8.8.8.8":         "",
		"2606:4700::1111": "",
		"100.128.0.1":     "",
		"172.32.0.1":      "",
	}
	for in, want := range cases {
		if got := deniedRange(netip.MustParseAddr(in)); got != want {
			t.Errorf("%s: %q, want %q", in, got, want)
		}
	}
}

func TestDenyPrivateControlMessage(t *testing.T) {
	err := DenyPrivateControl("tcp4", "10.0.0.5:443", nil)
	want := "destination address 10.0.0.5 is in a private range; refused because security.deny_private_destinations is on"
	if err == nil || err.Error() != want || !isDenied(err) {
		t.Fatalf("got %v", err)
	}
	if err := DenyPrivateControl("tcp6", "[2606:4700::1111]:443", nil); err != nil {
		t.Fatal(err)
	}
	if err := DenyPrivateControl("tcp6", "[::ffff:192.168.0.1]:80", nil); err == nil || err.Error() != "destination address 192.168.0.1 is in a private range; refused because security.deny_private_destinations is on" {
		t.Fatalf("mapped: %v", err)
	}
}
