"""Reports over compiled IR: the zero-insertion analysis (``--emit analysis``) and the placement (JSON, picture)."""
