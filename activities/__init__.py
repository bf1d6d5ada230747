"""All I/O of civicflow: storage, notifications, selection; the records they read and write."""
