package destinations

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// DeniedAddressError is returned when SenderConfig.DenyPrivate refuses to
// connect to an address. The check runs in the dialer, on the IP address
// that is actually about to be dialled after DNS resolution, so a name that
// resolves (or re-resolves) to an internal address cannot get through.
//
// A refused address is a Permanent outcome: retrying cannot change it, and
// it is a configuration problem the operator has to see in the DLQ.
type DeniedAddressError struct {
	Addr  netip.Addr
	Range string // "private", "loopback", "link-local", "unspecified", "multicast", "shared"
}

func (e *DeniedAddressError) Error() string {
	return fmt.Sprintf("destination address %s is in a %s range; refused because security.deny_private_destinations is on", e.Addr, e.Range)
}

// sharedAddressSpace is RFC 6598 carrier-grade NAT space (100.64.0.0/10),
// internal to providers although netip does not call it private.
var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")

// thisNetwork is 0.0.0.0/8, which Linux routes to the local host.
var thisNetwork = netip.MustParsePrefix("0.0.0.0/8")

// deniedRange names the range a refused address belongs to, or "" when the
// address may be dialled.
func deniedRange(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsUnspecified(), a.Is4() && thisNetwork.Contains(a):
		return "unspecified"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return "link-local"
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	case a.IsPrivate():
		return "private"
	case a.Is4() && sharedAddressSpace.Contains(a):
		return "shared"
	case a.Is4() && a.As4() == [4]byte{255, 255, 255, 255}:
		return "multicast" // limited broadcast
	}
	return ""
}

// DenyPrivateControl is a net.Dialer Control function: it is called after
// the address is resolved and before the socket connects, for every address
// the dialer tries (both families with Happy Eyeballs).
func DenyPrivateControl(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = address
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("destination address %q cannot be checked; refused because security.deny_private_destinations is on", address)
	}
	if r := deniedRange(a); r != "" {
		return &DeniedAddressError{Addr: a.Unmap().WithZone(""), Range: r}
	}
	return nil
}

// isDenied reports whether err comes from the DenyPrivate check.
func isDenied(err error) bool {
	var d *DeniedAddressError
	return errors.As(err, &d)
}
