"""Event clips: each camera's last seconds of encoded stream, cut to MP4 around a case start."""
