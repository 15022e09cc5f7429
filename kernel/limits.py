"""Input limits in one place: what is too long to accept, for every feature and platform."""

MAX_TEXT = 2000  # characters in one message, answer, comment or form field
MAX_COMMAND_ARGS = 500  # characters after a command
MAX_NAME = 100  # a display name
MAX_REPORT_TEXT = 1000  # a good deed's or an observation's description
