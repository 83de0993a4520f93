// Package resolve turns the host part of a SIP or SIPS URI into the ordered
// list of (transport, address, port) targets a client tries in turn: the
// client side of RFC 3263 §4, with the SRV selection rules of RFC 2782 and
// the NAPTR rules of RFC 3403.
//
// # Contract
//
// [Resolver.Resolve] takes what a URI says (TARGET — the maddr parameter if
// present, else the host —, the port or 0, whether the scheme is sips, and
// the transport parameter or "") and returns a non-empty list of [Target]s,
// or an error. It never returns an empty list with a nil error.
//
//   - A numeric IP host needs no DNS: one target, on the given transport
//     (UDP for sip, TLS for sips when none is given) and the given port or
//     the transport's default (RFC 3263 §4.1, §4.2).
//   - A name with an explicit port: A and AAAA records only, never SRV
//     (RFC 3263 §4.2).
//   - A name with an explicit transport but no port: the SRV records for
//     that transport (_sip._udp, _sip._tcp, _sips._tcp), and A/AAAA on the
//     transport's default port when there are none (RFC 3263 §4.2).
//     WebSocket (RFC 7118) has no standard SRV name, so ws and wss skip SRV
//     and use A/AAAA on port 80 (ws) or 443 (wss, or ws in a sips URI).
//   - A name with neither: NAPTR (RFC 3263 §4.1), keeping SIP+D2U, SIP+D2T
//     and SIPS+D2T (only SIPS+D2T for sips), in order then preference; then,
//     when NAPTR gives no SRV records, SRV for _sip._udp, _sip._tcp and
//     _sips._tcp (only _sips._tcp for sips); then, when there are no SRV
//     records either, A/AAAA on UDP (TLS for sips) and the default port.
//
// Each step falls through to the next only when DNS says its records do not
// exist (NXDOMAIN or an empty answer). A lookup that fails — a timeout, a
// refused connection, SERVFAIL — ends resolution with an error, unless
// another lookup of the same step (the A beside a failed AAAA, a second SRV
// name) produced targets; then those targets are returned. An SRV record set
// that is just "." (RFC 2782: service decidedly not available) counts as
// records that exist: it stops the fall-through and yields no targets.
//
// The list is a failover list (RFC 3263 §4.3): the caller sends to the
// first target, and on a transport error, a 503, or a timeout with no
// response at all (Timer B or F), builds a new request with a new branch
// and sends it to the next. [Failover] runs that loop. A target that
// appears twice (same transport, address and port) is kept only where it
// first appears.
//
// # Errors
//
// Errors read "resolve: no SIP service for example.com: …" and wrap, for
// errors.Is: [ErrNoSuchDomain] (NXDOMAIN), [ErrNoRecords] (the name exists
// but has no usable records), [ErrUnavailable] (SRV "."), and for a query
// that got no answer in time context.DeadlineExceeded (whether the per-query
// [Resolver.Timeout] or the caller's context ran out), or context.Canceled.
// Transport errors (a refused UDP query, say) are wrapped as they come.
//
// # What it does not do
//
// There is no cache: every call asks the DNS server, and the caller (or a
// local caching resolver) keeps results within a transaction, as RFC 3263
// §4 asks. Address records in an SRV answer's additional section are not
// used; each SRV target is looked up. SCTP (D2S) and NAPTR services for
// WebSocket (SIP+D2W, SIPS+D2W) are discarded. A client without TLS drops
// the TLS targets from the list itself.
package resolve
