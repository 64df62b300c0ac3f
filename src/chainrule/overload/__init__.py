"""The operator-overloading engine (method="overload", the default): dual numbers forward, a tape
backward, batching for vmap and Jacobians, and the PyTorch-like Tensor."""
