"""The IAM evaluator's conditions against AWS's documented examples (IAM User Guide; each test
names the page it follows)."""

from __future__ import annotations

import pytest

from tests.infra.iam_evaluation import Request, allow, allowed, decide, deny, policy

ACCOUNT = "123456789012"


def user(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


# "IAM JSON policy elements: Condition operators"


def test_a_missing_key_fails_a_positive_operator_and_passes_a_negated_one():
    # The page's opening rule, with its aws:PrincipalTag/job-category example: a principal
    # without the tag is implicitly denied; StringNotLike/ArnNotLike on a missing key hold.
    tagged = policy(
        allow(
            "iam:*AccessKey*",
            f"arn:aws:iam::{ACCOUNT}:user/*",
            Condition={"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
        )
    )
    request = Request("iam:ListAccessKeys", user("ana"))
    assert decide(request, [tagged]) == "implicit_deny"
    admin = {"aws:PrincipalTag/job-category": "iamuser-admin"}
    assert allowed(Request("iam:ListAccessKeys", user("ana"), admin), [tagged])

    for operator in ("StringNotLike", "ArnNotLike", "StringNotEquals", "NumericNotEquals"):
        negated = policy(deny("s3:*", Condition={operator: {"aws:SourceArn": "1"}}), allow("s3:*"))
        assert decide(Request("s3:GetObject", "arn:aws:s3:::b/k"), [negated]) == "explicit_deny"


def test_string_like_with_a_policy_variable():
    # The page's home-directory example: s3:prefix StringLike "", "home/", "home/${aws:username}/".
    home = policy(
        allow(
            "s3:ListBucket",
            "arn:aws:s3:::BUCKET-NAME",
            Condition={"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/"]}},
        )
    )
    for prefix, expected in [("", True), ("home/", True), ("home/ana/", True), ("home/bo/", False)]:
        context = {"s3:prefix": prefix, "aws:username": "ana"}
        assert (
            allowed(Request("s3:ListBucket", "arn:aws:s3:::BUCKET-NAME", context), [home])
            is expected
        )


def test_numeric_and_bool_operators():
    # The page's s3:max-keys NumericLessThanEquals example and aws:SecureTransport Bool example.
    bucket = "arn:aws:s3:::example_bucket"
    max_keys = policy(
        allow("s3:ListBucket", bucket, Condition={"NumericLessThanEquals": {"s3:max-keys": "10"}})
    )
    assert allowed(Request("s3:ListBucket", bucket, {"s3:max-keys": "10"}), [max_keys])
    assert not allowed(Request("s3:ListBucket", bucket, {"s3:max-keys": "11"}), [max_keys])
    assert not allowed(Request("s3:ListBucket", bucket), [max_keys])

    tls_only = policy(
        allow("s3:*"),
        deny("s3:*", [bucket, f"{bucket}/*"], Condition={"Bool": {"aws:SecureTransport": "false"}}),
    )
    assert (
        decide(Request("s3:GetObject", f"{bucket}/k", {"aws:SecureTransport": "false"}), [tls_only])
        == "explicit_deny"
    )
    assert (
        decide(Request("s3:GetObject", f"{bucket}/k", {"aws:SecureTransport": "true"}), [tls_only])
        == "allow"
    )


def test_ip_address_and_date_operators():
    # The page's aws:SourceIp examples (an IPv4 range, then IPv4 and IPv6 ranges together) and
    # its aws:TokenIssueTime DateGreaterThan example.
    keys = f"arn:aws:iam::{ACCOUNT}:user/*"
    ranges = ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]
    from_office = policy(
        allow("iam:*AccessKey*", keys, Condition={"IpAddress": {"aws:SourceIp": ranges}})
    )
    for address, expected in [
        ("203.0.113.7", True),
        ("2001:db8:1234:5678::1", True),
        ("198.51.100.1", False),
        ("2001:db8::1", False),
    ]:
        assert (
            allowed(
                Request("iam:ListAccessKeys", user("a"), {"aws:SourceIp": address}), [from_office]
            )
            is expected
        )
    assert not allowed(Request("iam:ListAccessKeys", user("a")), [from_office])
    elsewhere = policy(allow("*"), deny("*", Condition={"NotIpAddress": {"aws:SourceIp": ranges}}))
    assert (
        decide(Request("s3:GetObject", "*", {"aws:SourceIp": "198.51.100.1"}), [elsewhere])
        == "explicit_deny"
    )
    assert (
        decide(Request("s3:GetObject", "*", {"aws:SourceIp": "203.0.113.7"}), [elsewhere])
        == "allow"
    )

    fresh = policy(
        allow(
            "iam:*AccessKey*",
            keys,
            Condition={"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}},
        )
    )
    for issued, expected in [
        ("2020-06-01T00:00:00Z", True),
        ("2019-12-31T23:59:59Z", False),
        ("1593561600", True),
    ]:
        assert (
            allowed(
                Request("iam:ListAccessKeys", user("a"), {"aws:TokenIssueTime": issued}), [fresh]
            )
            is expected
        )
    assert not allowed(Request("iam:ListAccessKeys", user("a")), [fresh])  # long-term access keys


def test_arn_like_matches_each_part_where_string_like_spans_them():
    # The page's ARN operators example: the same pattern and value, StringLike matches and
    # ArnLike does not, its first `*` standing for the region only.
    pattern = f"arn:aws:someservice:*:{ACCOUNT}:finance/*"
    value = f"arn:aws:someservice:us-east-2:999999999999:store/abc:{ACCOUNT}:finance/document.txt"
    context = {"aws:SourceArn": value}
    for operator, expected in [("StringLike", True), ("ArnLike", False), ("ArnEquals", False)]:
        statement = policy(
            allow("sqs:SendMessage", Condition={operator: {"aws:SourceArn": pattern}})
        )
        assert allowed(Request("sqs:SendMessage", "*", context), [statement]) is expected
    own = {"aws:SourceArn": f"arn:aws:someservice:us-east-2:{ACCOUNT}:finance/a:b.txt"}
    arn_like = policy(allow("sqs:SendMessage", Condition={"ArnLike": {"aws:SourceArn": pattern}}))
    assert allowed(Request("sqs:SendMessage", "*", own), [arn_like])
    arn_not_like = policy(deny("sqs:*", Condition={"ArnNotLike": {"aws:SourceArn": pattern}}))
    assert decide(Request("sqs:SendMessage", "*", context), [arn_not_like]) == "explicit_deny"


def test_if_exists_passes_a_missing_key():
    # The page's ...IfExists example: ec2:RunInstances with ec2:InstanceType t1.*, t2.*, m3.*;
    # without IfExists the resources that lack the key (images, key pairs) are refused.
    types = ["t1.*", "t2.*", "m3.*"]
    works = policy(
        allow("ec2:RunInstances", Condition={"StringLikeIfExists": {"ec2:InstanceType": types}})
    )
    does_not = policy(
        allow("ec2:RunInstances", Condition={"StringLike": {"ec2:InstanceType": types}})
    )
    instance = Request(
        "ec2:RunInstances", "arn:aws:ec2:us-east-2:1:instance/*", {"ec2:InstanceType": "t2.micro"}
    )
    large = Request(
        "ec2:RunInstances", "arn:aws:ec2:us-east-2:1:instance/*", {"ec2:InstanceType": "m5.large"}
    )
    image = Request("ec2:RunInstances", "arn:aws:ec2:us-east-2::image/ami-1")
    assert [allowed(r, [works]) for r in (instance, large, image)] == [True, False, True]
    assert [allowed(r, [does_not]) for r in (instance, large, image)] == [True, False, False]


def test_null_checks_presence():
    # The page's Null example: EC2 only without temporary credentials (no aws:TokenIssueTime).
    no_temporary = policy(allow("ec2:*", Condition={"Null": {"aws:TokenIssueTime": "true"}}))
    assert allowed(Request("ec2:DescribeVpcs", "*"), [no_temporary])
    assert not allowed(
        Request("ec2:DescribeVpcs", "*", {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}),
        [no_temporary],
    )
    present = policy(allow("ec2:*", Condition={"Null": {"aws:TokenIssueTime": "false"}}))
    assert allowed(
        Request("ec2:DescribeVpcs", "*", {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}), [present]
    )
    assert not allowed(Request("ec2:DescribeVpcs", "*", {"aws:TagKeys": []}), [present])


# "Creating a condition with multiple keys or values" (now "Single-valued vs. multivalued
# context keys" and "Multivalued context key examples")


def test_blocks_and_keys_are_anded_values_ored_and_negated_values_nored():
    # The page's condition block: department and role principal tags (ignoring case) and the
    # account; and its note that StringNotEquals with several accounts must match none.
    statement = policy(
        allow(
            "s3:*",
            Condition={
                "StringEqualsIgnoreCase": {
                    "aws:PrincipalTag/department": ["finance", "hr", "legal"],
                    "aws:PrincipalTag/role": ["audit", "security"],
                },
                "StringEquals": {"aws:PrincipalAccount": ACCOUNT},
            },
        )
    )
    full = {
        "aws:PrincipalTag/department": "HR",
        "aws:PrincipalTag/role": "audit",
        "aws:PrincipalAccount": ACCOUNT,
    }
    assert allowed(Request("s3:GetObject", "*", full), [statement])
    for key in full:
        assert not allowed(
            Request("s3:GetObject", "*", {k: v for k, v in full.items() if k != key}), [statement]
        )
    assert not allowed(
        Request("s3:GetObject", "*", {**full, "aws:PrincipalTag/role": "dev"}), [statement]
    )

    outsiders = policy(
        allow("s3:*"),
        deny(
            "s3:*",
            Condition={
                "StringNotEquals": {"aws:PrincipalAccount": ["111111111111", "222222222222"]}
            },
        ),
    )
    for account, expected in [
        ("111111111111", "allow"),
        ("222222222222", "allow"),
        (ACCOUNT, "explicit_deny"),
    ]:
        assert (
            decide(Request("s3:GetObject", "*", {"aws:PrincipalAccount": account}), [outsiders])
            == expected
        )


def test_for_all_values_and_for_any_value():
    # The page's DynamoDB Thread examples: GetItem of only ID, Message, Tags (ForAllValues);
    # PutItem denied when it touches ID or PostDateTime (ForAnyValue).
    table = "arn:aws:dynamodb:us-east-2:1:table/Thread"
    reads = policy(
        allow(
            "dynamodb:GetItem",
            "arn:aws:dynamodb:*:*:table/Thread",
            Condition={
                "ForAllValues:StringEquals": {"dynamodb:Attributes": ["ID", "Message", "Tags"]}
            },
        )
    )
    for attributes, expected in [
        (["Message", "Tags"], True),
        (["ID", "Message"], True),
        (["Message", "UserName"], False),
        ([], True),
        (None, True),
    ]:
        context = {} if attributes is None else {"dynamodb:Attributes": attributes}
        assert allowed(Request("dynamodb:GetItem", table, context), [reads]) is expected

    writes = policy(
        allow("dynamodb:*"),
        deny(
            "dynamodb:PutItem",
            "arn:aws:dynamodb:*:*:table/Thread",
            Condition={"ForAnyValue:StringEquals": {"dynamodb:Attributes": ["ID", "PostDateTime"]}},
        ),
    )
    for attributes, expected in [
        (["PostDateTime", "Message"], "explicit_deny"),
        (["UserName", "Message", "PostDateTime"], "explicit_deny"),
        (["UserName"], "allow"),
        ([], "allow"),
        (None, "allow"),
    ]:
        context = {} if attributes is None else {"dynamodb:Attributes": attributes}
        assert decide(Request("dynamodb:PutItem", table, context), [writes]) == expected


@pytest.mark.parametrize(
    ("tag_keys", "expected"),
    [
        (["key1:legal"], "allow"),
        (["key1:hr", "key1:personnel"], "allow"),
        (["key2:audit"], "explicit_deny"),
        (["key1:hr", "key2:audit"], "allow"),  # not every key lacks the prefix
        (None, "explicit_deny"),
    ],
)
def test_for_all_values_with_a_negated_operator(tag_keys, expected):
    # "Multivalued context key examples": Deny iam:Tag*/iam:UnTag* with ForAllValues:StringNotLike
    # aws:TagKeys key1*; its table, including a request without aws:TagKeys (a match: denied).
    statement = {
        "Sid": "DenyRestrictedTags",
        **deny(
            ["iam:Tag*", "iam:UnTag*"],
            ["*"],
            Condition={"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}},
        ),
    }
    context = {} if tag_keys is None else {"aws:TagKeys": tag_keys}
    assert (
        decide(Request("iam:TagRole", "*", context), [policy(allow("iam:*"), statement)])
        == expected
    )


def test_inverted_operators_match_a_variable_with_no_value():
    # "IAM policy elements: Variables and tags", Policy variables with no value: StringEquals
    # against it does not match, StringNotEquals does.
    same_team = {"s3:ExistingObjectTag/Team": "${aws:PrincipalTag/Team}"}
    equals = policy(allow("s3:GetObject", Condition={"StringEquals": same_team}))
    not_equals = policy(
        allow("s3:GetObject"), deny("s3:GetObject", Condition={"StringNotEquals": same_team})
    )
    untagged = Request("s3:GetObject", "arn:aws:s3:::b/k", {"s3:ExistingObjectTag/Team": "red"})
    tagged = Request(
        "s3:GetObject",
        "arn:aws:s3:::b/k",
        {"s3:ExistingObjectTag/Team": "red", "aws:PrincipalTag/Team": "red"},
    )
    assert decide(untagged, [equals]) == "implicit_deny"
    assert decide(untagged, [not_equals]) == "explicit_deny"
    assert decide(tagged, [equals]) == "allow"
    assert decide(tagged, [not_equals]) == "allow"
    empty = Request("s3:GetObject", "arn:aws:s3:::b/k", {"s3:ExistingObjectTag/Team": ""})
    assert decide(empty, [equals]) == "implicit_deny"
