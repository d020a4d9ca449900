"""fipswizard: enable FIPS 140-3 on Azure Linux VMs, control plane and guest, end to end."""

__version__ = "0.1.0"
