"""CloudFormation templates: the resources a user declares, read as CloudFormation reads them."""
from harness.cfn.template import StateMachineSource, Template, TemplateLoader, is_template, load_template, state_machines

__all__ = ["StateMachineSource", "Template", "TemplateLoader", "is_template", "load_template", "state_machines"]
