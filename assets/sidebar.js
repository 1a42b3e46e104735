// The sidebar (see components/sidebar.py).
