"""The IAM evaluator against AWS's documented examples of policy evaluation, boundaries, actions,
resources and variables (IAM User Guide; each test names the page it follows), and properties of
IAM's rules over generated policies. Condition operators: test_iam_conditions.py."""

from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.infra.iam_evaluation import Request, allow, allowed, decide, deny, policy

ACCOUNT = "123456789012"
PROPERTIES = settings(derandomize=True, database=None, deadline=None, max_examples=60)


# "Permissions boundaries for IAM entities": Delegating responsibility to others using
# permissions boundaries (María delegates user creation to Zhang).
X_BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/XCompanyBoundaries"
DELEGATED_USER_BOUNDARY = policy(
    allow(
        [
            "iam:AttachUserPolicy",
            "iam:CreateUser",
            "iam:DeleteUserPolicy",
            "iam:DetachUserPolicy",
            "iam:PutUserPermissionsBoundary",
            "iam:PutUserPolicy",
        ],
        Condition={"StringEquals": {"iam:PermissionsBoundary": X_BOUNDARY}},
    ),
    {
        "Effect": "Allow",
        "Action": ["cloudwatch:*", "iam:CreatePolicy", "iam:UpdateLoginProfile", "iam:GetUser"],
        "NotResource": f"arn:aws:iam::{ACCOUNT}:user/Maria",
    },
    deny(
        ["iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:SetDefaultPolicyVersion"],
        [X_BOUNDARY, f"arn:aws:iam::{ACCOUNT}:policy/DelegatedUserBoundary"],
    ),
    deny("iam:DeleteUserPermissionsBoundary"),
)
DELEGATED_USER_PERMISSIONS = policy(
    allow("iam:*"),
    allow(["cloudwatch:GetDashboard", "cloudwatch:ListMetrics"]),
    allow("s3:ListBucket", "arn:aws:s3:::ZhangBucket"),
)
X_COMPANY_BOUNDARIES = policy(
    allow(["s3:*", "cloudwatch:*", "ec2:*", "dynamodb:*"]),
    allow(["iam:ListUsers", "iam:GetAccountPasswordPolicy"]),
    allow(
        ["iam:*AccessKey*", "iam:ChangePassword", "iam:GetUser"],
        "arn:aws:iam::*:user/${aws:username}",
    ),
    deny("s3:*", ["arn:aws:s3:::logs", "arn:aws:s3:::logs/*"]),
    deny("ec2:*", "arn:aws:ec2:*:*:instance/i-1234567890abcdef0"),
)


def user(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


@pytest.mark.parametrize(
    ("action", "resource", "context", "expected"),
    [
        # CreateUser only with XCompanyBoundaries as the new user's boundary
        ("iam:CreateUser", user("Nikhil"), {}, "implicit_deny"),
        ("iam:CreateUser", user("Nikhil"), {"iam:PermissionsBoundary": X_BOUNDARY}, "allow"),
        (
            "iam:CreateUser",
            user("Nikhil"),
            {"iam:PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/AdministratorAccess"},
            "implicit_deny",
        ),
        # Nobody's boundary can be removed, the boundary policies cannot be edited
        ("iam:DeleteUserPermissionsBoundary", user("Nikhil"), {}, "explicit_deny"),
        ("iam:CreatePolicyVersion", X_BOUNDARY, {}, "explicit_deny"),
        # NotResource: everyone's login profile but María's
        ("iam:UpdateLoginProfile", user("Nikhil"), {}, "allow"),
        ("iam:UpdateLoginProfile", user("Maria"), {}, "implicit_deny"),
        # The boundary allows all of CloudWatch, the permissions policy five actions
        ("cloudwatch:GetDashboard", "*", {}, "allow"),
        ("cloudwatch:PutDashboard", "*", {}, "implicit_deny"),
        # The permissions policy allows ListBucket, the boundary no S3 action
        ("s3:ListBucket", "arn:aws:s3:::ZhangBucket", {}, "implicit_deny"),
    ],
)
def test_delegating_user_creation_within_a_boundary(action, resource, context, expected):
    request = Request(action, resource, context)
    assert decide(request, [DELEGATED_USER_PERMISSIONS], DELEGATED_USER_BOUNDARY) == expected


@pytest.mark.parametrize(
    ("action", "resource", "expected"),
    [
        ("iam:ChangePassword", user("Nikhil"), "allow"),  # ${aws:username} is his own name
        ("iam:ChangePassword", user("Zhang"), "implicit_deny"),
        ("iam:CreateUser", user("Other"), "implicit_deny"),  # IAMFullAccess, bounded
        ("s3:GetObject", "arn:aws:s3:::reports/q1.csv", "allow"),
        ("s3:GetObject", "arn:aws:s3:::logs/today.log", "explicit_deny"),  # the boundary's Deny
        (
            "ec2:StopInstances",
            "arn:aws:ec2:us-east-2:1:instance/i-1234567890abcdef0",
            "explicit_deny",
        ),
    ],
)
def test_a_user_created_with_the_company_boundary(action, resource, expected):
    # Same page, task 4: Nikhil has IAMFullAccess and AmazonS3ReadOnlyAccess, bounded.
    iam_full_access = policy(allow("iam:*"))
    s3_read_only = policy(allow(["s3:Get*", "s3:List*"]))
    request = Request(action, resource, {"aws:username": "Nikhil"})
    assert decide(request, [iam_full_access, s3_read_only], X_COMPANY_BOUNDARIES) == expected


def test_a_boundary_grants_nothing_and_permissions_are_the_intersection():
    # "Permissions boundaries for IAM entities": ShirleyRodriguez's boundary allows S3,
    # CloudWatch and EC2; her iam:CreateUser permission is outside it. And, from "Evaluating
    # effective permissions with boundaries", effective permissions are the intersection.
    boundary = policy(allow(["s3:*", "cloudwatch:*", "ec2:*"]))
    create_user = Request("iam:CreateUser", user("new"))
    assert decide(create_user, [policy(allow("iam:CreateUser"))], boundary) == "implicit_deny"
    assert decide(create_user, [policy(allow("iam:CreateUser"))]) == "allow"
    assert decide(Request("s3:GetObject", "arn:aws:s3:::b/k"), [], boundary) == "implicit_deny"

    only_get = policy(allow("s3:GetObject"))
    everything_s3 = policy(allow("s3:*"))
    assert allowed(Request("s3:GetObject", "arn:aws:s3:::b/k"), [everything_s3], only_get)
    assert decide(Request("s3:PutObject", "arn:aws:s3:::b/k"), [everything_s3], only_get) == (
        "implicit_deny"
    )


def test_an_explicit_deny_in_any_policy_wins():
    # "Policy evaluation logic": an explicit deny in any policy overrides any allow.
    request = Request("s3:DeleteObject", "arn:aws:s3:::b/k")
    assert decide(request, [policy(allow("s3:*"), deny("s3:Delete*"))]) == "explicit_deny"
    assert decide(request, [policy(allow("s3:*")), policy(deny("*"))]) == "explicit_deny"
    assert decide(request, [policy(allow("s3:*"))], policy(allow("*"), deny("s3:*"))) == (
        "explicit_deny"
    )
    assert decide(request, []) == "implicit_deny"
    assert decide(request, [{"Statement": allow("s3:*")}]) == "allow"  # Statement as one dict


def test_action_prefix_and_name_are_case_insensitive():
    # "IAM JSON policy elements: Action": the prefix and the action name are case insensitive.
    statement = policy(allow("iam:*AccessKey*"), allow("s3:Get?bject"))
    assert allowed(Request("IAM:createaccesskey", user("a")), [statement])
    assert allowed(Request("s3:GETOBJECT", "arn:aws:s3:::b/k"), [statement])
    assert not allowed(Request("s3:GetObjects", "arn:aws:s3:::b/k"), [statement])


RESOURCE_PATTERN = "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*/test/*"


@pytest.mark.parametrize(
    ("key", "matches"),
    [
        ("1/test/object.jpg", True),
        ("1/2/test/object.jpg", True),
        ("1/2/test/3/object.jpg", True),
        ("1/2/3/test/4/object.jpg", True),
        ("1///test///object.jpg", True),
        ("1/test/.jpg", True),
        ("/test/object.jpg", True),
        ("1/test/", True),
        ("1-test/object.jpg", False),
        ("test/object.jpg", False),
        ("1/2/test.jpg", False),
    ],
)
def test_resource_wildcards_span_slashes(key, matches):
    # "IAM JSON policy elements: Resource", Using wildcards in resource ARNs: the objects that
    # DOC-EXAMPLE-BUCKET/*/test/* does and does not cover.
    request = Request("s3:GetObject", f"arn:aws:s3:::DOC-EXAMPLE-BUCKET/{key}")
    assert allowed(request, [policy(allow("s3:GetObject", RESOURCE_PATTERN))]) is matches


def test_resource_names_are_case_sensitive_and_a_trailing_star_crosses_colons():
    # "IAM JSON policy elements: Resource": the user name is case sensitive in Resource, and a
    # `*` ending a segment can expand past colon boundaries.
    bob = policy(allow("iam:GetUser", f"arn:aws:iam::{ACCOUNT}:user/Bob"))
    assert allowed(Request("iam:GetUser", user("Bob")), [bob])
    assert not allowed(Request("iam:GetUser", user("bob")), [bob])
    streams = policy(allow("logs:PutLogEvents", f"arn:aws:logs:*:{ACCOUNT}:log-group:/app:*"))
    stream = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/app:log-stream:abc"
    assert allowed(Request("logs:PutLogEvents", stream), [streams])


def test_policy_variables_in_resources():
    # "IAM policy elements: Variables and tags": ${aws:username} in a resource, a default value,
    # the special characters, and a variable with no value matching no resource.
    home = policy(allow("s3:*", "arn:aws:s3:::mybucket/${aws:username}/*"))
    assert allowed(
        Request("s3:GetObject", "arn:aws:s3:::mybucket/ana/x", {"aws:username": "ana"}), [home]
    )
    assert not allowed(
        Request("s3:GetObject", "arn:aws:s3:::mybucket/bo/x", {"aws:username": "ana"}), [home]
    )
    assert not allowed(Request("s3:GetObject", "arn:aws:s3:::mybucket/ana/x"), [home])
    own = policy(allow("s3:*", "arn:aws:s3:::mybucket/home${aws:username}"))
    assert not allowed(Request("s3:GetObject", "arn:aws:s3:::mybucket/home"), [own])
    assert allowed(
        Request("s3:GetObject", "arn:aws:s3:::mybucket/homeana", {"aws:username": "ana"}), [own]
    )

    team = policy(allow("s3:*", "arn:aws:s3:::bucket-${aws:PrincipalTag/team, 'company-wide'}"))
    assert allowed(
        Request("s3:ListBucket", "arn:aws:s3:::bucket-yellow", {"aws:PrincipalTag/team": "yellow"}),
        [team],
    )
    assert allowed(Request("s3:ListBucket", "arn:aws:s3:::bucket-company-wide"), [team])
    assert not allowed(Request("s3:ListBucket", "arn:aws:s3:::bucket-yellow"), [team])

    literal = policy(allow("s3:GetObject", "arn:aws:s3:::b/${*}${?}${$}"))
    assert allowed(Request("s3:GetObject", "arn:aws:s3:::b/*?$"), [literal])
    assert not allowed(Request("s3:GetObject", "arn:aws:s3:::b/xy$"), [literal])

    # Variable keys are case-insensitive; this project scopes ARNs by the caller's account.
    roles = policy(allow("iam:GetRole", "arn:aws:iam::${AWS:principalaccount}:role/iris/*"))
    context = {"aws:PrincipalAccount": ACCOUNT}
    assert allowed(
        Request("iam:GetRole", f"arn:aws:iam::{ACCOUNT}:role/iris/dev/r", context), [roles]
    )
    assert not allowed(
        Request("iam:GetRole", "arn:aws:iam::999999999999:role/iris/dev/r", context), [roles]
    )


def test_not_action():
    # "IAM JSON policy elements: NotAction": Allow every S3 action on S3 resources but
    # DeleteBucket; Deny every non-IAM action without MFA (BoolIfExists).
    s3_but_delete = policy(
        {"Effect": "Allow", "NotAction": "s3:DeleteBucket", "Resource": "arn:aws:s3:::*"}
    )
    assert allowed(Request("s3:GetObject", "arn:aws:s3:::b/k"), [s3_but_delete])
    assert not allowed(Request("s3:DeleteBucket", "arn:aws:s3:::b"), [s3_but_delete])
    assert not allowed(
        Request("ec2:RunInstances", "arn:aws:ec2:us-east-2:1:instance/*"), [s3_but_delete]
    )

    mfa = policy(
        allow("*"),
        {
            "Sid": "DenyAllUsersNotUsingMFA",
            "Effect": "Deny",
            "NotAction": "iam:*",
            "Resource": "*",
            "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        },
    )
    assert (
        decide(Request("s3:GetObject", "*", {"aws:MultiFactorAuthPresent": "false"}), [mfa])
        == "explicit_deny"
    )
    assert decide(Request("s3:GetObject", "*"), [mfa]) == "explicit_deny"
    assert (
        decide(Request("s3:GetObject", "*", {"aws:MultiFactorAuthPresent": "true"}), [mfa])
        == "allow"
    )
    assert (
        decide(Request("iam:ListUsers", "*", {"aws:MultiFactorAuthPresent": "false"}), [mfa])
        == "allow"
    )


def test_not_resource():
    # "IAM JSON policy elements: NotResource": HRPayroll may touch no S3 resource but the
    # Payroll folder of HRBucket; other services are not affected.
    payroll = policy(
        allow("*"),
        {
            "Effect": "Deny",
            "Action": "s3:*",
            "NotResource": ["arn:aws:s3:::HRBucket/Payroll", "arn:aws:s3:::HRBucket/Payroll/*"],
        },
    )
    assert (
        decide(Request("s3:GetObject", "arn:aws:s3:::HRBucket/Payroll/march.csv"), [payroll])
        == "allow"
    )
    assert (
        decide(Request("s3:GetObject", "arn:aws:s3:::HRBucket/Other/x"), [payroll])
        == "explicit_deny"
    )
    assert decide(Request("ec2:DescribeVpcs", "*"), [payroll]) == "allow"


@pytest.mark.parametrize(
    ("statement", "context", "complaint"),
    [
        (
            allow("s3:*", Condition={"StringEqualsSometimes": {"k": "v"}}),
            {},
            "StringEqualsSometimes",
        ),
        (allow("s3:*", Condition={"ForEachValue:StringEquals": {"k": "v"}}), {}, "ForEachValue"),
        (allow("s3:*", Condition={"NullIfExists": {"k": "true"}}), {}, "NullIfExists"),
        (allow("s3:*", Condition={"BinaryEquals": {"k": "QQ=="}}), {}, "BinaryEquals"),
        (allow("s3:*", Principal="*"), {}, "Principal"),
        (allow("s3:*", Conditon={}), {}, "Conditon"),
        ({"Effect": "Permit", "Action": "s3:*", "Resource": "*"}, {}, "Permit"),
        ({"Effect": "Allow", "Action": "s3:*"}, {}, "Resource"),
        (
            allow("s3:*", Condition={"StringEquals": {"aws:TagKeys": "a"}}),
            {"aws:TagKeys": ["a", "b"]},
            "aws:TagKeys",
        ),
        (allow("s3:*", Condition={"NumericLessThan": {"n": "ten"}}), {"n": "1"}, "ten"),
        (
            allow("s3:*", Condition={"ArnLike": {"k": "arn:aws:s3"}}),
            {"k": "arn:aws:s3:::b"},
            "arn:aws:s3",
        ),
    ],
)
def test_what_it_cannot_decide_is_refused(statement, context, complaint):
    # Even when the statement does not concern the request (unknown operators never pass).
    with pytest.raises(ValueError, match=complaint):
        decide(Request("s3:GetObject", "arn:aws:s3:::b/k", context), [policy(statement)])
    if not context:
        with pytest.raises(ValueError, match=complaint):
            decide(Request("ec2:DescribeVpcs", "*"), [policy(statement)])


# Properties over generated policies and requests

ACTIONS = ["s3:GetObject", "s3:PutObject", "iam:CreateRole", "iam:DeleteRolePermissionsBoundary"]
RESOURCES = ["arn:aws:s3:::b/k", "arn:aws:s3:::other/k", f"arn:aws:iam::{ACCOUNT}:role/iris/r", "*"]
CONDITIONS = [
    {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
    {"StringNotEquals": {"iam:PermissionsBoundary": "arn:aws:iam::1:policy/b"}},
    {"StringLike": {"aws:RequestTag/iris:stack": "iris-*"}},
    {"ForAllValues:StringEquals": {"aws:TagKeys": ["iris:stack", "iris:program"]}},
    {"ForAnyValue:StringLike": {"aws:TagKeys": "iris:*"}},
    {"Null": {"aws:RequestTag/iris:stack": "false"}},
    {"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}},
    {"ArnLike": {"iam:PermissionsBoundary": "arn:aws:iam::*:policy/b"}},
]
contexts = st.fixed_dictionaries(
    {},
    optional={
        "aws:PrincipalAccount": st.sampled_from([ACCOUNT, "999999999999"]),
        "iam:PermissionsBoundary": st.sampled_from(
            ["arn:aws:iam::1:policy/b", "arn:aws:iam::1:policy/c"]
        ),
        "aws:RequestTag/iris:stack": st.sampled_from(["iris-dev", "other"]),
        "aws:TagKeys": st.lists(
            st.sampled_from(["iris:stack", "iris:program", "owner"]), max_size=3
        ),
        "aws:MultiFactorAuthPresent": st.sampled_from(["true", "false"]),
    },
)
requests = st.builds(Request, st.sampled_from(ACTIONS), st.sampled_from(RESOURCES), contexts)
action_patterns = st.sampled_from(
    ["*", "s3:*", "s3:Get*", "iam:*Role*", "IAM:createrole", "s3:?utObject"]
)
resource_patterns = st.sampled_from(
    ["*", "arn:aws:s3:::b/*", "arn:aws:*", "arn:aws:iam::${aws:PrincipalAccount}:role/iris/*"]
)


def statements(*effects: str) -> st.SearchStrategy[dict]:
    def build(effect, action_key, actions, resource_key, resource, blocks) -> dict:
        statement = {"Effect": effect, action_key: actions, resource_key: resource}
        if blocks:
            statement["Condition"] = {op: keys for block in blocks for op, keys in block.items()}
        return statement

    return st.builds(
        build,
        st.sampled_from(effects),
        st.sampled_from(["Action", "NotAction"]),
        st.lists(action_patterns, min_size=1, max_size=2),
        st.sampled_from(["Resource", "NotResource"]),
        resource_patterns,
        st.lists(st.sampled_from(CONDITIONS), max_size=1),
    )


policies = st.builds(
    lambda s: policy(*s), st.lists(statements("Allow", "Allow", "Deny"), min_size=1, max_size=3)
)
boundaries = st.none() | policies


@PROPERTIES
@given(
    requests,
    st.lists(policies, min_size=1, max_size=2),
    boundaries,
    statements("Deny"),
    st.booleans(),
)
def test_adding_a_deny_never_allows_more(request, identity, boundary, denial, into_boundary):
    before = decide(request, identity, boundary)
    if into_boundary and boundary is not None:
        after = decide(request, identity, policy(*boundary["Statement"], denial))
    else:
        after = decide(request, [*identity, policy(denial)], boundary)
    if after == "allow":
        assert before == "allow"
    if before == "explicit_deny" or decide(request, [policy(denial)]) == "explicit_deny":
        assert after == "explicit_deny"  # a Deny that applies wins over any Allow


@PROPERTIES
@given(requests, st.lists(policies, min_size=1, max_size=2), boundaries, statements("Allow"))
def test_adding_an_allow_never_denies_more(request, identity, boundary, permission):
    before = decide(request, identity, boundary)
    after = decide(request, [*identity, policy(permission)], boundary)
    if before == "allow":
        assert after == "allow"
    if before == "explicit_deny":
        assert after == "explicit_deny"
    if boundary is not None and after == "allow":
        assert decide(request, [*identity, policy(permission)]) == "allow"  # a boundary only limits


pieces = st.text(alphabet="ab:/-*?", max_size=8)
fillers = st.text(alphabet="abAB:/-", max_size=3)


@st.composite
def patterns_and_names(draw: st.DrawFn) -> tuple[str, str]:
    """A pattern and a name made to match it often: each wildcard stands for a drawn filler,
    each other character for itself or, sometimes, a filler (which usually breaks the match)."""
    pattern = draw(pieces)
    name = "".join(draw(fillers) if c in "*?" or draw(st.booleans()) else c for c in pattern)
    return pattern, name


@PROPERTIES
@given(patterns_and_names())
def test_resource_wildcards_match_as_shell_patterns_over_the_whole_arn(pattern_and_name):
    # `*` any run of characters (`:` and `/` included), `?` one character, case kept.
    pattern, name = pattern_and_name
    resource = f"arn:aws:s3:::{name}"
    statement = policy(allow("s3:GetObject", f"arn:aws:s3:::{pattern}"))
    expected = fnmatch.fnmatchcase(resource, f"arn:aws:s3:::{pattern}")
    assert allowed(Request("s3:GetObject", resource), [statement]) is expected


@PROPERTIES
@given(patterns_and_names())
def test_action_wildcards_match_ignoring_case(pattern_and_name):
    pattern, name = pattern_and_name
    action = f"s3:{name}"
    expected = fnmatch.fnmatchcase(action.lower(), f"s3:{pattern}".lower())
    assert allowed(Request(action, "*"), [policy(allow(f"s3:{pattern}"))]) is expected
