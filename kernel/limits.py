"""Input limits in one place: what is too long to accept, for every feature and platform."""

MAX_TEXT = 2000  # characters in one message, answer, comment or form field
MAX_COMMAND_ARGS = 500  # characters after a command
MAX_NAME = 100  # a display name
MAX_REPORT_TEXT = 1000  # a good deed's or an observation's description
# Buttons on one message. Slack takes 25 in an actions block and Telegram 100 on a keyboard, but a
# person can scan few: a longer choice is a form field, which every platform can search or page.
MAX_BUTTONS = 25
