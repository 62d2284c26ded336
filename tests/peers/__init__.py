"""Independent SIP peers (Kamailio, SIPp, rtpengine) that tests start on loopback."""
