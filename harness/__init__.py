"""drydock local cloud: moto-backed AWS services, integrations, SageMaker runtime, CLI."""
