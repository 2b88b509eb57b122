"""IAM for Step Functions tasks: what each integration needs, a policy evaluator, a static check and run-time enforcement.

- `actions.required(resource, parameters)`: the IAM actions and resource ARNs a task needs;
- `policy`: roles and their policies (moto IAM or a CloudFormation template) and `evaluate`;
- `check.check(definition, role)`: the permissions a role lacks, before any run (`drydock iam-check`);
- `enforce.enforce(handlers, roles, mode=...)`: the same at run time, strict (AccessDenied) or warning.
"""
from harness.iam.actions import Permission, required, static_parameters
from harness.iam.check import Finding, check
from harness.iam.enforce import STRICT, WARN, Enforcer, enforce
from harness.iam.policy import Decision, IamRoles, Policy, PolicyError, Role, TemplateRoles, evaluate

__all__ = ["Permission", "required", "static_parameters", "Finding", "check", "STRICT", "WARN", "Enforcer", "enforce",
           "Decision", "IamRoles", "Policy", "PolicyError", "Role", "TemplateRoles", "evaluate"]
