"""Cloud and cloud-shadow detection on multispectral reflectance (spectral tests or a CNN)."""
