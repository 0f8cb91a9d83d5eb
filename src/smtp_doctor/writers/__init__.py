"""Writers: turn a fix or a probed server into config text in the framework's own syntax."""
