"""The SpendSense stack on the shared components of `iris_infra`: its typed configuration, its
route table and the function that declares it."""
