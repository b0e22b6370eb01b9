"""The fan-out: where a child task's parent keys come from (task_keys.py)."""
