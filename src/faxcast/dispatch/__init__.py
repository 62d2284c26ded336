"""The dispatcher: the recipients table is the queue; workers claim, call and record."""
