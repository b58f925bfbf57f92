"""What the tests share: real recordings and repositories, the CLI run in-process or as a
process, git environments, hostile inputs, tiny Fish Speech checkpoints."""
