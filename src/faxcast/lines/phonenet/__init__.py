"""The virtual phone network: the sandbox's test numbers and real fax machines, over SIP.

The answering side of the SIP layer that lines of kind `sip` call (`faxcast phone-network`).
"""

from faxcast.lines.phonenet.network import PhoneNetwork, ReceivedCall

__all__ = ["PhoneNetwork", "ReceivedCall"]
