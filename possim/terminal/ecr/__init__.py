"""The terminal's cash-register (ECR) port: a protocol file, the terminal's server, and a till's client."""

from possim.terminal.ecr.client import EcrClient, EcrReply
from possim.terminal.ecr.protocol import EcrError, EcrProtocol, get_protocol, protocol_files
from possim.terminal.ecr.server import EcrServer

__all__ = ["EcrClient", "EcrError", "EcrProtocol", "EcrReply", "EcrServer", "get_protocol", "protocol_files"]
