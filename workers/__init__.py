"""RQ jobs and the worker entry point. Jobs are thin: ids in, one service call, commit."""
