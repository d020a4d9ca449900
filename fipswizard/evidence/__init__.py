"""Evidence an auditor can read: collection (read-only), CMVP assessment, the bundle."""
