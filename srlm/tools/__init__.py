"""What the `srlm` command offers besides stages: dataset diff, git/DVC revisions, export."""
