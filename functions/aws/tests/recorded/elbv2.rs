//! The load-balancer adapter against recorded ELBv2 answers. AWS never
//! returns an OIDC action's client secret, and a ModifyListener/ModifyRule
//! that writes such an action back must say `UseExistingClientSecret=true`
//! (AWS API reference, AuthenticateOidcActionConfig); the emulator echoes
//! the secret and accepts anything, so the request is checked here.

use bluegreen_core::ports::{LoadBalancer, Route, WeightedTarget};

use crate::support::{recorded_answers, sdk_config};

const BLUE: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-blue/73e2d6bc24d8a067";
const GREEN: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-green/2453ed029918f21f";

/// The OIDC action then the forward action, as AWS describes them: no
/// `ClientSecret`.
macro_rules! actions {
    ($blue:literal, $green:literal) => {
        concat!(
            "<member><Type>authenticate-oidc</Type><Order>1</Order><AuthenticateOidcConfig>",
            "<Issuer>https://idp.example.com</Issuer>",
            "<AuthorizationEndpoint>https://idp.example.com/authorize</AuthorizationEndpoint>",
            "<TokenEndpoint>https://idp.example.com/token</TokenEndpoint>",
            "<UserInfoEndpoint>https://idp.example.com/userinfo</UserInfoEndpoint>",
            "<ClientId>shop</ClientId><SessionCookieName>AWSELBAuthSessionCookie</SessionCookieName>",
            "<Scope>openid</Scope><SessionTimeout>604800</SessionTimeout>",
            "<OnUnauthenticatedRequest>authenticate</OnUnauthenticatedRequest>",
            "</AuthenticateOidcConfig></member>",
            "<member><Type>forward</Type><Order>2</Order><ForwardConfig><TargetGroups>",
            "<member><TargetGroupArn>arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-blue/73e2d6bc24d8a067</TargetGroupArn><Weight>",
            $blue,
            "</Weight></member>",
            "<member><TargetGroupArn>arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-green/2453ed029918f21f</TargetGroupArn><Weight>",
            $green,
            "</Weight></member>",
            "</TargetGroups><TargetGroupStickinessConfig><Enabled>false</Enabled></TargetGroupStickinessConfig>",
            "</ForwardConfig></member>"
        )
    };
}

macro_rules! listener {
    ($op:literal, $blue:literal, $green:literal) => {
        concat!(
            "<", $op, "Response xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\"><",
            $op, "Result><Listeners><member>",
            "<ListenerArn>arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2</ListenerArn>",
            "<Port>443</Port><Protocol>HTTPS</Protocol><DefaultActions>",
            actions!($blue, $green),
            "</DefaultActions></member></Listeners></", $op, "Result>",
            "<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></", $op, "Response>"
        )
    };
}

macro_rules! rule {
    ($op:literal, $blue:literal, $green:literal) => {
        concat!(
            "<", $op, "Response xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\"><",
            $op, "Result><Rules><member>",
            "<RuleArn>arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee</RuleArn>",
            "<Priority>10</Priority><IsDefault>false</IsDefault><Conditions/><Actions>",
            actions!($blue, $green),
            "</Actions></member></Rules></", $op, "Result>",
            "<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></", $op, "Response>"
        )
    };
}

fn to_green(actions: &bluegreen_core::ports::RouteActions) -> bluegreen_core::ports::RouteActions {
    actions.with_weights(&[
        WeightedTarget {
            target_group_arn: BLUE.into(),
            weight: 0,
        },
        WeightedTarget {
            target_group_arn: GREEN.into(),
            weight: 100,
        },
    ])
}

/// What every write of an OIDC action read from AWS must carry.
fn assert_keeps_the_existing_secret(request: &str, list: &str) {
    let oidc = format!("{list}.member.1.AuthenticateOidcConfig");
    assert!(
        request.contains(&format!("{oidc}.UseExistingClientSecret=true")),
        "the write must reuse the stored client secret: {request}"
    );
    assert!(
        request.contains(&format!("{oidc}.ClientId=shop")),
        "the rest of the action is written back as read: {request}"
    );
    assert!(
        !request.contains(&format!("{oidc}.ClientSecret=")),
        "{request}"
    );
}

#[tokio::test]
async fn a_listener_with_oidc_is_written_back_keeping_its_client_secret() {
    let (url, seen) = recorded_answers(vec![
        (
            "Action=DescribeListeners",
            listener!("DescribeListeners", "100", "0"),
        ),
        (
            "Action=ModifyListener",
            listener!("ModifyListener", "0", "100"),
        ),
    ])
    .await;
    let lb = bluegreen_aws::elbv2(&sdk_config(&url).await);
    let route = Route::ListenerDefault {
        listener_arn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2".into(),
    };
    let read = lb.read_actions(&route).await.expect("describe");
    let written = lb
        .write_actions(&route, &to_green(&read))
        .await
        .expect("modify");
    assert_eq!(
        written.foreign().count(),
        1,
        "the OIDC action is still there"
    );

    let requests = seen.lock().unwrap().clone();
    let modify = requests
        .iter()
        .find(|r| r.contains("Action=ModifyListener"))
        .expect("a ModifyListener was sent");
    assert_keeps_the_existing_secret(modify, "DefaultActions");
}

#[tokio::test]
async fn a_rule_with_oidc_is_written_back_keeping_its_client_secret() {
    let (url, seen) = recorded_answers(vec![
        ("Action=DescribeRules", rule!("DescribeRules", "100", "0")),
        ("Action=ModifyRule", rule!("ModifyRule", "0", "100")),
    ])
    .await;
    let lb = bluegreen_aws::elbv2(&sdk_config(&url).await);
    let route = Route::Rule {
        rule_arn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee".into(),
    };
    let read = lb.read_actions(&route).await.expect("describe");
    lb.write_actions(&route, &to_green(&read))
        .await
        .expect("modify");

    let requests = seen.lock().unwrap().clone();
    let modify = requests
        .iter()
        .find(|r| r.contains("Action=ModifyRule"))
        .expect("a ModifyRule was sent");
    assert_keeps_the_existing_secret(modify, "Actions");
}
