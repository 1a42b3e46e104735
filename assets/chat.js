// The chat page: scrolling, focus, keyboard (see app/pages/chat.py).
