"""tefed's orchestration: scenarios, the builder, the runner, reports and the ``tefed`` command."""
