#!/usr/bin/env python3
"""Counts the CloudFormation resources each stack of template.yaml becomes after the SAM
transform, and fails above the budget (450, under CloudFormation's hard limit of 500 per stack).

    python3 tools/check-template.py [template.yaml] [--limit 450] [--no-exact]

Two counts per stack:
  estimate  rules of thumb for what SAM generates (below); needs only PyYAML
  exact     the real AWS SAM translator (`samtranslator`, installed with cfn-lint or the SAM CLI),
            run offline; skipped with a note when it is not installed or with --no-exact
The check fails when either is over the limit. Nested stacks (AWS::Serverless::Application or
AWS::CloudFormation::Stack with a local template path) are checked as stacks of their own.

Also checked, because they are the other limits this project will meet as it grows:
  - template size: 1,000,000 bytes (a template uploaded through S3, which `sam deploy` does);
  - CloudFront Function code: 10 KB;
  - HTTP API routes per API: 300 (API Gateway's default quota; it can be raised).

tools/gen-functions.py imports `estimate_resources` and refuses to write a template over the
limit, so the failure shows up when someone adds operations, not at deploy time.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from pathlib import Path

LIMIT = 450
CFN_HARD_LIMIT = 500
TEMPLATE_BYTES_LIMIT = 1_000_000
CLOUDFRONT_FUNCTION_BYTES_LIMIT = 10 * 1024
HTTP_API_ROUTES_LIMIT = 300

# What one event of a SAM function becomes, besides the function itself.
EVENT_RESOURCES = {
    "HttpApi": 1,  # AWS::Lambda::Permission (route + integration live in the API's OpenAPI body)
    "Api": 1,  # AWS::Lambda::Permission
    "Cognito": 1,  # AWS::Lambda::Permission
    "S3": 1,  # AWS::Lambda::Permission
    "SQS": 1,  # AWS::Lambda::EventSourceMapping
    "Kinesis": 1,
    "DynamoDB": 1,
    "MSK": 1,
    "MQ": 1,
    "SelfManagedKafka": 1,
    "DocumentDB": 1,
    "SNS": 2,  # Subscription + Permission
    "Schedule": 2,  # Events::Rule + Permission
    "ScheduleV2": 2,  # Scheduler::Schedule + Role
    "CloudWatchEvent": 2,
    "EventBridgeRule": 2,
    "CloudWatchLogs": 2,
    "IoTRule": 2,
    "AlexaSkill": 1,
}


def estimate_resources(resources: dict) -> tuple[int, dict[str, int]]:
    """Estimated resource count after the SAM transform, with a breakdown by resource type."""
    by_type: dict[str, int] = {}

    def add(kind: str, n: int = 1) -> None:
        by_type[kind] = by_type.get(kind, 0) + n

    implicit_http_api = implicit_rest_api = False
    for res in resources.values():
        kind = res.get("Type", "")
        props = res.get("Properties") or {}
        if kind == "AWS::Serverless::Function":
            add("AWS::Lambda::Function")
            if "Role" not in props:
                add("AWS::IAM::Role")
            for event in (props.get("Events") or {}).values():
                etype = event.get("Type", "")
                add(f"(event {etype})", EVENT_RESOURCES.get(etype, 2))
                eprops = event.get("Properties") or {}
                if etype == "HttpApi" and "ApiId" not in eprops:
                    implicit_http_api = True
                if etype == "Api" and "RestApiId" not in eprops:
                    implicit_rest_api = True
            if "AutoPublishAlias" in props:
                add("AWS::Lambda::Version")
                add("AWS::Lambda::Alias")
            if "FunctionUrlConfig" in props:
                add("AWS::Lambda::Url")
                add("AWS::Lambda::Permission")
        elif kind == "AWS::Serverless::HttpApi":
            add("AWS::ApiGatewayV2::Api")
            add("AWS::ApiGatewayV2::Stage")
            if "Domain" in props:
                add("AWS::ApiGatewayV2::DomainName + ApiMapping", 2)
        elif kind == "AWS::Serverless::Api":
            add("AWS::ApiGateway::RestApi")
            add("AWS::ApiGateway::Deployment")
            add("AWS::ApiGateway::Stage")
        elif kind == "AWS::Serverless::Application":
            add("AWS::CloudFormation::Stack")
        elif kind == "AWS::Serverless::StateMachine":
            add("AWS::StepFunctions::StateMachine")
            if "Role" not in props:
                add("AWS::IAM::Role")
        elif kind == "AWS::Serverless::SimpleTable":
            add("AWS::DynamoDB::Table")
        elif kind == "AWS::Serverless::LayerVersion":
            add("AWS::Lambda::LayerVersion")
        else:
            add(kind)
    if implicit_http_api:
        add("AWS::ApiGatewayV2::Api (implicit)", 2)
    if implicit_rest_api:
        add("AWS::ApiGateway::RestApi (implicit)", 3)
    return sum(by_type.values()), by_type


def load_template(path: Path) -> dict:
    """Loads a CloudFormation YAML template, turning short-form intrinsics into long form."""
    try:
        import yaml
    except ImportError:
        sys.exit("check-template: PyYAML is needed (it comes with cfn-lint: pip install cfn-lint)")

    class Loader(yaml.SafeLoader):
        pass

    def intrinsic(loader, tag_suffix, node):
        name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if tag_suffix == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    Loader.add_multi_constructor("!", intrinsic)
    # CloudFormation keeps timestamps and the like as strings.
    Loader.yaml_implicit_resolvers = {
        k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    with path.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=Loader)


def exact_resources(template: dict) -> tuple[int | None, str]:
    """Resource count from the real SAM translator, or None and why not."""
    try:
        from samtranslator.parser import parser
        from samtranslator.translator.translator import Translator
    except ImportError:
        return None, "samtranslator not installed (pip install cfn-lint, or aws-sam-cli)"
    import logging

    logging.getLogger("samtranslator").setLevel(logging.CRITICAL)
    t = copy.deepcopy(template)
    # The translator wants S3 locations, not local paths (as `sam validate` does, offline).
    for res in (t.get("Resources") or {}).values():
        props = res.get("Properties")
        if not isinstance(props, dict):
            continue
        if res.get("Type") == "AWS::Serverless::Function" and not isinstance(props.get("CodeUri", {}), dict):
            props["CodeUri"] = "s3://bucket/key"
        if res.get("Type") == "AWS::Serverless::Application" and isinstance(props.get("Location"), str):
            props["Location"] = "https://bucket.s3.amazonaws.com/nested.yaml"
    if isinstance(t.get("Globals", {}).get("Function", {}).get("CodeUri"), str):
        t["Globals"]["Function"]["CodeUri"] = "s3://bucket/key"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    try:
        out = Translator(managed_policy_map={}, sam_parser=parser.Parser()).translate(
            sam_template=t, parameter_values={}
        )
    except Exception as e:  # the translator reports template errors as exceptions
        causes = getattr(e, "causes", None)
        detail = "; ".join(getattr(c, "message", str(c)) for c in causes) if causes else str(e)
        return None, f"SAM transform failed: {detail}"
    return len(out.get("Resources", {})), "samtranslator " + _samtranslator_version()


def _samtranslator_version() -> str:
    try:
        import samtranslator

        return samtranslator.__version__
    except Exception:
        return "?"


def nested_templates(template: dict, base: Path) -> list[tuple[str, Path]]:
    found = []
    for name, res in (template.get("Resources") or {}).items():
        props = res.get("Properties") or {}
        loc = None
        if res.get("Type") == "AWS::Serverless::Application":
            loc = props.get("Location")
        elif res.get("Type") == "AWS::CloudFormation::Stack":
            loc = props.get("TemplateURL")
        if isinstance(loc, str) and "://" not in loc:
            found.append((name, (base / loc).resolve()))
    return found


def check_stack(path: Path, label: str, limit: int, exact: bool, problems: list[str]) -> None:
    raw = path.read_bytes()
    template = load_template(path)
    resources = template.get("Resources") or {}

    estimate, by_type = estimate_resources(resources)
    line = f"{label}: {len(resources)} resources in the template, ~{estimate} after the SAM transform (estimate)"
    if exact:
        count, how = exact_resources(template)
        line += f", {count} exact ({how})" if count is not None else f"; exact count skipped: {how}"
        if count is not None and count > limit:
            problems.append(f"{label}: {count} resources after the SAM transform, over the budget of {limit}")
    print(line)
    for kind, n in sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"    {n:4d}  {kind}")
    if estimate > limit:
        problems.append(f"{label}: ~{estimate} resources after the SAM transform, over the budget of {limit}")

    if len(raw) > TEMPLATE_BYTES_LIMIT:
        problems.append(f"{label}: template is {len(raw)} bytes, over CloudFormation's {TEMPLATE_BYTES_LIMIT}")

    routes_per_api: dict[str, int] = {}
    for name, res in resources.items():
        props = res.get("Properties") or {}
        if res.get("Type") == "AWS::CloudFront::Function":
            code = props.get("FunctionCode")
            if isinstance(code, str) and len(code.encode()) > CLOUDFRONT_FUNCTION_BYTES_LIMIT:
                problems.append(f"{label}: CloudFront Function {name} is {len(code.encode())} bytes, over 10 KB")
        if res.get("Type") == "AWS::Serverless::Function":
            for event in (props.get("Events") or {}).values():
                if event.get("Type") == "HttpApi":
                    api = (event.get("Properties") or {}).get("ApiId", {"Ref": "ServerlessHttpApi"})
                    key = str(api.get("Ref", api)) if isinstance(api, dict) else str(api)
                    routes_per_api[key] = routes_per_api.get(key, 0) + 1
    for api, n in sorted(routes_per_api.items()):
        print(f"    HTTP API {api}: {n} routes (quota {HTTP_API_ROUTES_LIMIT})")
        if n > HTTP_API_ROUTES_LIMIT:
            problems.append(f"{label}: HTTP API {api} has {n} routes, over the default quota of {HTTP_API_ROUTES_LIMIT}")

    for name, nested in nested_templates(template, path.parent):
        if nested.exists():
            check_stack(nested, f"{label} > {name} ({nested.name})", limit, exact, problems)
        else:
            problems.append(f"{label}: nested stack {name} points at missing {nested}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("template", nargs="?", default=str(Path(__file__).resolve().parent.parent / "template.yaml"))
    ap.add_argument("--limit", type=int, default=LIMIT, help=f"resources per stack (default {LIMIT})")
    ap.add_argument("--no-exact", action="store_true", help="skip the SAM translator count")
    args = ap.parse_args()
    if args.limit >= CFN_HARD_LIMIT:
        print(f"note: --limit {args.limit} leaves no room under CloudFormation's {CFN_HARD_LIMIT}")

    problems: list[str] = []
    path = Path(args.template)
    check_stack(path, path.name, args.limit, not args.no_exact, problems)
    if problems:
        for p in problems:
            print(f"FAIL: {p}", file=sys.stderr)
        return 1
    print(f"ok: every stack is within {args.limit} resources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
