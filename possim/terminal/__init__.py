"""The terminal simulator: state, counters, journal, receipts and the ECR port."""
