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

And the deployment's security controls (docs/security.md), each a FAIL when missing:
  - IssuerBase is a parameter without a default, whose pattern admits only https URLs (a
    function never derives the issuer from request headers, so the stack must name it);
  - every function gets TESSERA_ORIGIN_SECRET_ARN, the front door's origin sends the header
    x-tessera-origin-secret from that secret (a dynamic reference, never a literal);
  - no function environment holds a secret value: no {{resolve:secretsmanager|ssm-secure}}
    there, and no TESSERA_ADMIN_SECRET_ACCESS_KEY; the admin secret is read at cold start;
  - secretsmanager:GetSecretValue is granted only on secrets of the template, and the admin
    secret only to roles whose every function is an admin one (TESSERA_ADMIN_SECRET_ARN);
  - sns:Publish: allowed on "*" (SMS) only with a Deny of Publish on every SNS ARN
    (arn:<partition>:sns:*:*:*) in the same policy, and otherwise only on platform endpoints
    (arn:...:sns:<region>:<account>:endpoint/*); never sns:* or a wildcard action.

tools/gen-functions.py imports `estimate_resources` and refuses to write a template over the
limit, so the failure shows up when someone adds operations, not at deploy time.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
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


ORIGIN_SECRET_HEADER = "x-tessera-origin-secret"
ORIGIN_SECRET_VARIABLE = "TESSERA_ORIGIN_SECRET_ARN"
ADMIN_SECRET_VARIABLE = "TESSERA_ADMIN_SECRET_ARN"
SECRET_DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:(secretsmanager|ssm-secure):")


def _text(value) -> str:
    """An intrinsic's text, for pattern checks: the string of a Fn::Sub, else the value itself."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub[0] if isinstance(sub, list) else str(sub)
    return value if isinstance(value, str) else repr(value)


def _list(value) -> list:
    return value if isinstance(value, list) else [value]


def _ref(value) -> str | None:
    return value.get("Ref") if isinstance(value, dict) else None


def check_security(template: dict, label: str, problems: list[str], root: bool) -> None:
    """The deployment controls of docs/security.md, read from the template itself."""
    resources = template.get("Resources") or {}
    functions = {n: r for n, r in resources.items() if r.get("Type") == "AWS::Serverless::Function"}
    if not functions:
        return
    fail = lambda msg: problems.append(f"{label}: {msg}")  # noqa: E731

    # 1. The issuer: a required https parameter.
    if root:
        issuer = (template.get("Parameters") or {}).get("IssuerBase")
        if issuer is None:
            fail("no IssuerBase parameter (the functions need TESSERA_ISSUER_BASE)")
        else:
            if "Default" in issuer:
                fail("IssuerBase has a Default: it must be required, so every deployment names its issuer")
            pattern = issuer.get("AllowedPattern")
            if pattern is None:
                fail("IssuerBase has no AllowedPattern")
            else:
                for bad in ["", "http://auth.example.com", "https://auth.example.com/", "https://a.example?x"]:
                    if re.fullmatch(pattern, bad):
                        fail(f"IssuerBase's AllowedPattern admits {bad!r}")
                if not re.fullmatch(pattern, "https://auth.example.com"):
                    fail("IssuerBase's AllowedPattern refuses https://auth.example.com")

    # 2. Environments: the secrets' ARNs, never their values.
    global_env = (((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}).get(
        "Variables"
    ) or {}
    env_of = {}
    for name, res in functions.items():
        own = ((res.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
        env_of[name] = {**global_env, **own}
    for name, env in env_of.items():
        for var, value in env.items():
            if SECRET_DYNAMIC_REFERENCE.search(_text(value)):
                fail(f"{name}: {var} resolves a secret into the environment; pass its ARN and read it at cold start")
            if var in ("TESSERA_ADMIN_SECRET_ACCESS_KEY", "TESSERA_ADMIN_ACCESS_KEY_ID"):
                fail(f"{name}: {var} in the environment; the admin keys come from {ADMIN_SECRET_VARIABLE}")

    # 3. The origin secret: every function knows it, the front door sends it.
    origin_secrets = {_ref(env.get(ORIGIN_SECRET_VARIABLE)) for env in env_of.values()}
    if None in origin_secrets or len(origin_secrets) != 1:
        fail(f"every function needs {ORIGIN_SECRET_VARIABLE}: !Ref <the origin secret> (one secret for all)")
    origin_secret = next(iter(origin_secrets - {None}), None)
    if origin_secret is not None and (resources.get(origin_secret) or {}).get("Type") != "AWS::SecretsManager::Secret":
        fail(f"{ORIGIN_SECRET_VARIABLE} names {origin_secret}, not a secret of this template")
    api_origins = 0
    for name, res in resources.items():
        if res.get("Type") != "AWS::CloudFront::Distribution":
            continue
        for origin in ((res.get("Properties") or {}).get("DistributionConfig") or {}).get("Origins") or []:
            if "execute-api" not in _text(origin.get("DomainName")):
                continue
            api_origins += 1
            headers = {h.get("HeaderName", "").lower(): h.get("HeaderValue") for h in origin.get("OriginCustomHeaders") or []}
            value = _text(headers.get(ORIGIN_SECRET_HEADER))
            if ORIGIN_SECRET_HEADER not in headers:
                fail(f"{name}: origin {origin.get('Id')} does not send {ORIGIN_SECRET_HEADER}")
            elif f"{{{{resolve:secretsmanager:${{{origin_secret}}}}}}}" != value:
                fail(f"{name}: origin {origin.get('Id')} sends {ORIGIN_SECRET_HEADER} = {value!r}, "
                     f"not the secret {origin_secret} the functions check")
    if root and api_origins == 0:
        fail("no CloudFront origin in front of the HTTP API (execute-api)")

    # 4. IAM: who may read which secret, and where sns:Publish may go.
    admin_secret = None
    for env in env_of.values():
        admin_secret = admin_secret or _ref(env.get(ADMIN_SECRET_VARIABLE))
    roles_of: dict[str, list[str]] = {}
    for name, res in functions.items():
        role = (res.get("Properties") or {}).get("Role")
        if isinstance(role, dict) and "Fn::GetAtt" in role:
            roles_of.setdefault(role["Fn::GetAtt"][0], []).append(name)
    for role_name, res in resources.items():
        if res.get("Type") != "AWS::IAM::Role":
            continue
        for policy in (res.get("Properties") or {}).get("Policies") or []:
            if not isinstance(policy, dict):
                continue  # a Fn::If of policies is checked by hand (the hooks' legacy table)
            statements = _list((policy.get("PolicyDocument") or {}).get("Statement") or [])
            denies_sns_arns = any(
                st.get("Effect") == "Deny"
                and "sns:Publish" in _list(st.get("Action"))
                and any(re.fullmatch(r"arn:(\$\{AWS::Partition\}|aws):sns:\*:\*:\*", _text(r)) for r in _list(st.get("Resource")))
                for st in statements
            )
            for st in statements:
                if st.get("Effect") != "Allow":
                    continue
                actions = [a for a in _list(st.get("Action")) if isinstance(a, str)]
                where = f"{role_name} ({st.get('Sid', 'statement')})"
                if any(a in ("*", "sns:*") or a.startswith("sns:") and "*" in a for a in actions):
                    fail(f"{where}: wildcard SNS action {actions}")
                if any(a.startswith("secretsmanager:") and "*" in a for a in actions):
                    fail(f"{where}: wildcard Secrets Manager action {actions}")
                resources_ = _list(st.get("Resource"))
                if "secretsmanager:GetSecretValue" in actions:
                    for r in resources_:
                        target = _ref(r)
                        if target is None or (resources.get(target) or {}).get("Type") != "AWS::SecretsManager::Secret":
                            fail(f"{where}: GetSecretValue on {r!r}, not one secret of this template")
                        if target is not None and target == admin_secret:
                            plain = [f for f in roles_of.get(role_name, []) if ADMIN_SECRET_VARIABLE not in env_of[f]]
                            if plain:
                                fail(f"{where}: the admin secret is readable by non-admin functions {plain[:3]}")
                if "sns:Publish" in actions:
                    for r in resources_:
                        text = _text(r)
                        if text == "*":
                            if not denies_sns_arns:
                                fail(f"{where}: sns:Publish on * without a Deny of Publish on arn:…:sns:*:*:* "
                                     "(topics and endpoints) in the same policy")
                        elif not re.fullmatch(r"arn:\$\{AWS::Partition\}:sns:\$\{AWS::Region\}:\$\{AWS::AccountId\}:endpoint/\*", text):
                            fail(f"{where}: sns:Publish on {text}: only SMS (* with the Deny) or this "
                                 "account's platform endpoints (…:endpoint/*)")


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


def check_stack(path: Path, label: str, limit: int, exact: bool, problems: list[str], root: bool = True) -> None:
    raw = path.read_bytes()
    template = load_template(path)
    resources = template.get("Resources") or {}
    check_security(template, label, problems, root)

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
            check_stack(nested, f"{label} > {name} ({nested.name})", limit, exact, problems, root=False)
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
    print(f"ok: every stack is within {args.limit} resources, and the deployment's security controls are in place")
    return 0


if __name__ == "__main__":
    sys.exit(main())
