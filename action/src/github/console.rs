//! Links to an execution in the AWS console.

/// The Step Functions console page of `execution_arn`
/// (`arn:<partition>:states:<region>:<account>:execution:<machine>:<name>`);
/// `None` when it is not an execution ARN.
pub fn console_url(execution_arn: &str) -> Option<String> {
    let mut parts = execution_arn.splitn(7, ':');
    let (Some("arn"), Some(partition), Some("states"), Some(region), Some(_), Some("execution")) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let named = parts
        .next()
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(machine, name)| !machine.is_empty() && !name.is_empty());
    if region.is_empty() || !named {
        return None;
    }
    // Each partition has its own console.
    let host = match partition {
        "aws-cn" => format!("{region}.console.amazonaws.cn"),
        "aws-us-gov" => format!("{region}.console.amazonaws-us-gov.com"),
        _ => format!("{region}.console.aws.amazon.com"),
    };
    Some(format!(
        "https://{host}/states/home?region={region}#/v2/executions/details/{execution_arn}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_comes_from_the_arn() {
        let arn = "arn:aws:states:eu-west-1:123456789012:execution:bluegreen:checkout-v2-1";
        assert_eq!(
            console_url(arn).unwrap(),
            format!(
                "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/{arn}"
            )
        );
        let cn = "arn:aws-cn:states:cn-north-1:1:execution:m:e";
        assert!(
            console_url(cn)
                .unwrap()
                .starts_with("https://cn-north-1.console.amazonaws.cn/")
        );
    }

    #[test]
    fn not_an_execution_arn() {
        assert_eq!(console_url("checkout-v2"), None);
        assert_eq!(
            console_url("arn:aws:states:us-east-1:1:stateMachine:m"),
            None
        );
        assert_eq!(console_url("arn:aws:states::1:execution:m:e"), None);
        assert_eq!(console_url("arn:aws:states:us-east-1:1:execution:m:"), None);
    }
}
