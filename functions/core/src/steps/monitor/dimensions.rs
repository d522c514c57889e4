//! CloudWatch dimension values of ALB metrics, derived from ARNs.

/// `arn:…:listener/app/<name>/<lb-id>/<listener-id>` → `app/<name>/<lb-id>`.
pub fn load_balancer(listener_arn: &str) -> Option<String> {
    let resource = listener_arn.split(':').nth(5)?;
    let parts: Vec<&str> = resource.split('/').collect();
    match parts.as_slice() {
        ["listener" | "listener-rule", kind, name, id, ..] => Some(format!("{kind}/{name}/{id}")),
        _ => None,
    }
}

/// `arn:…:targetgroup/<name>/<id>` → `targetgroup/<name>/<id>`.
pub fn target_group(target_group_arn: &str) -> Option<String> {
    let resource = target_group_arn.split(':').nth(5)?;
    resource
        .starts_with("targetgroup/")
        .then(|| resource.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_dimensions_from_arns() {
        assert_eq!(
            load_balancer("arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2").as_deref(),
            Some("app/shop/50dc6c495c0c9188")
        );
        assert_eq!(
            target_group("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-blue/73e2d6bc24d8a067").as_deref(),
            Some("targetgroup/shop-blue/73e2d6bc24d8a067")
        );
        assert_eq!(load_balancer("nonsense"), None);
    }
}
