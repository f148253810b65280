#!/usr/bin/env bash
# Tutorial-style build of an HTTPS Application Load Balancer in front of a Rust Lambda.
#
# WHAT THIS IS: a deliberately sequential reproduction of how blog tutorials build
# this stack: one `aws` CLI call after another, ids captured with --query/--output
# text, fixed sleeps and the CLI's waiters. It exists only as the baseline of albkit's
# time-to-URL benchmark (see README.md beside it), to compare against `albkit`.
# It is NOT a supported way to deploy: no idempotency (run it once per STACK), no
# rollback on failure (run down.sh), no parallelism on purpose.
#
# Inputs (environment):
#   STACK        name prefix: $STACK-vpc, $STACK-alb, $STACK-api (function and target
#                group), $STACK-role, bucket $STACK-logs-<account>-<region>
#   DOMAIN       the HTTPS host name (certificate and alias records)
#   ZONE_ID      the Route 53 hosted zone that holds DOMAIN
#   ZIP          path to the Lambda deployment zip (a `bootstrap` for provided.al2023)
#   AWS_REGION   the region
#   AWS_ENDPOINT_URL (optional) an emulator's endpoint, e.g. moto_server
# Output: the URL https://$DOMAIN on stdout; progress and the CLI's output on stderr.
set -euo pipefail

# Everything goes to stderr except the final URL (written to fd 3 = the real stdout).
exec 3>&1 1>&2

die() {
    echo "error: $*" >&2
    exit 1
}

for var in STACK DOMAIN ZONE_ID ZIP AWS_REGION; do
    [ -n "${!var:-}" ] || die "$var is not set (needed: STACK, DOMAIN, ZONE_ID, ZIP, AWS_REGION; optional: AWS_ENDPOINT_URL)"
done
[ -f "$ZIP" ] || die "ZIP=$ZIP is not a file"
# ALB and target group names are at most 32 characters (so STACK at most 28), letters,
# digits and hyphens, no hyphen at either end.
[[ "$STACK" =~ ^[A-Za-z0-9]([A-Za-z0-9-]{0,26}[A-Za-z0-9])?$ ]] \
    || die "STACK=$STACK: use 1 to 28 letters, digits or hyphens, not starting or ending with a hyphen"
DOMAIN="${DOMAIN%.}"

# The AWS CLI v1 reads neither AWS_REGION (only AWS_DEFAULT_REGION) nor, before
# botocore 1.31, AWS_ENDPOINT_URL: pass both as flags on every call.
export AWS_PAGER="" # CLI v2 would otherwise page some outputs
aws() {
    if [ -n "${AWS_ENDPOINT_URL:-}" ]; then
        command aws --region "$AWS_REGION" --endpoint-url "$AWS_ENDPOINT_URL" "$@"
    else
        command aws --region "$AWS_REGION" "$@"
    fi
}

step() {
    echo "==> $*"
}

step "Account and availability zones"
ACCOUNT_ID=$(aws sts get-caller-identity --query Account --output text)
AZS=$(aws ec2 describe-availability-zones \
    --filters Name=state,Values=available Name=zone-type,Values=availability-zone \
    --query 'AvailabilityZones[0:2].ZoneName' --output text)
read -r AZ1 AZ2 <<<"$AZS"
[ -n "${AZ2:-}" ] || die "fewer than two availability zones in $AWS_REGION"
echo "account $ACCOUNT_ID, zones $AZ1 $AZ2"

step "VPC"
VPC_ID=$(aws ec2 create-vpc --cidr-block 10.0.0.0/16 \
    --tag-specifications "ResourceType=vpc,Tags=[{Key=Name,Value=$STACK-vpc}]" \
    --query Vpc.VpcId --output text)
aws ec2 modify-vpc-attribute --vpc-id "$VPC_ID" --enable-dns-support '{"Value":true}'
aws ec2 modify-vpc-attribute --vpc-id "$VPC_ID" --enable-dns-hostnames '{"Value":true}'
echo "VPC $VPC_ID"

step "Public subnets"
SUBNET1_ID=$(aws ec2 create-subnet --vpc-id "$VPC_ID" --cidr-block 10.0.1.0/24 \
    --availability-zone "$AZ1" \
    --tag-specifications "ResourceType=subnet,Tags=[{Key=Name,Value=$STACK-public-1}]" \
    --query Subnet.SubnetId --output text)
SUBNET2_ID=$(aws ec2 create-subnet --vpc-id "$VPC_ID" --cidr-block 10.0.2.0/24 \
    --availability-zone "$AZ2" \
    --tag-specifications "ResourceType=subnet,Tags=[{Key=Name,Value=$STACK-public-2}]" \
    --query Subnet.SubnetId --output text)
echo "subnets $SUBNET1_ID $SUBNET2_ID"

step "Internet gateway"
IGW_ID=$(aws ec2 create-internet-gateway \
    --tag-specifications "ResourceType=internet-gateway,Tags=[{Key=Name,Value=$STACK-igw}]" \
    --query InternetGateway.InternetGatewayId --output text)
aws ec2 attach-internet-gateway --internet-gateway-id "$IGW_ID" --vpc-id "$VPC_ID"
echo "internet gateway $IGW_ID"

step "Route table"
RTB_ID=$(aws ec2 create-route-table --vpc-id "$VPC_ID" \
    --tag-specifications "ResourceType=route-table,Tags=[{Key=Name,Value=$STACK-public-rt}]" \
    --query RouteTable.RouteTableId --output text)
aws ec2 create-route --route-table-id "$RTB_ID" \
    --destination-cidr-block 0.0.0.0/0 --gateway-id "$IGW_ID" >/dev/null
aws ec2 associate-route-table --route-table-id "$RTB_ID" --subnet-id "$SUBNET1_ID" >/dev/null
aws ec2 associate-route-table --route-table-id "$RTB_ID" --subnet-id "$SUBNET2_ID" >/dev/null
echo "route table $RTB_ID"

step "Security group"
SG_ID=$(aws ec2 create-security-group --group-name "$STACK-alb-sg" \
    --description "$STACK ALB: HTTP and HTTPS from anywhere" --vpc-id "$VPC_ID" \
    --tag-specifications "ResourceType=security-group,Tags=[{Key=Name,Value=$STACK-alb-sg}]" \
    --query GroupId --output text)
aws ec2 authorize-security-group-ingress --group-id "$SG_ID" \
    --protocol tcp --port 80 --cidr 0.0.0.0/0 >/dev/null
aws ec2 authorize-security-group-ingress --group-id "$SG_ID" \
    --protocol tcp --port 443 --cidr 0.0.0.0/0 >/dev/null
echo "security group $SG_ID"

step "Access-log bucket"
BUCKET="$STACK-logs-$ACCOUNT_ID-$AWS_REGION"
BUCKET="${BUCKET,,}"
if [ "$AWS_REGION" = us-east-1 ]; then
    aws s3api create-bucket --bucket "$BUCKET" >/dev/null
else
    aws s3api create-bucket --bucket "$BUCKET" \
        --create-bucket-configuration "LocationConstraint=$AWS_REGION" >/dev/null
fi
aws s3api put-public-access-block --bucket "$BUCKET" \
    --public-access-block-configuration \
    BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
aws s3api put-bucket-encryption --bucket "$BUCKET" \
    --server-side-encryption-configuration \
    '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'
# Who writes ALB access logs: the region's Elastic Load Balancing account in the
# regions opened before August 2022, the log-delivery service principal elsewhere.
case "$AWS_REGION" in
    us-east-1) LOG_PRINCIPAL='{"AWS":"arn:aws:iam::127311923021:root"}' ;;
    eu-central-1) LOG_PRINCIPAL='{"AWS":"arn:aws:iam::054676820928:root"}' ;;
    *) LOG_PRINCIPAL='{"Service":"logdelivery.elasticloadbalancing.amazonaws.com"}' ;;
esac
aws s3api put-bucket-policy --bucket "$BUCKET" --policy "{
  \"Version\": \"2012-10-17\",
  \"Statement\": [{
    \"Sid\": \"AlbAccessLogs\",
    \"Effect\": \"Allow\",
    \"Principal\": $LOG_PRINCIPAL,
    \"Action\": \"s3:PutObject\",
    \"Resource\": \"arn:aws:s3:::$BUCKET/alb/AWSLogs/$ACCOUNT_ID/*\"
  }]
}"
echo "bucket $BUCKET"

step "Load balancer"
ALB_ARN=$(aws elbv2 create-load-balancer --name "$STACK-alb" --type application \
    --scheme internet-facing --subnets "$SUBNET1_ID" "$SUBNET2_ID" \
    --security-groups "$SG_ID" \
    --query 'LoadBalancers[0].LoadBalancerArn' --output text)
aws elbv2 modify-load-balancer-attributes --load-balancer-arn "$ALB_ARN" --attributes \
    Key=access_logs.s3.enabled,Value=true \
    "Key=access_logs.s3.bucket,Value=$BUCKET" \
    Key=access_logs.s3.prefix,Value=alb \
    Key=routing.http.drop_invalid_header_fields.enabled,Value=true >/dev/null
echo "load balancer $ALB_ARN"

step "Certificate for $DOMAIN (DNS validation)"
CERT_ARN=$(aws acm request-certificate --domain-name "$DOMAIN" --validation-method DNS \
    --tags "Key=Name,Value=$STACK-cert" \
    --query CertificateArn --output text)
echo "certificate $CERT_ARN"
# The validation record shows up in describe-certificate a few seconds after the request.
VALIDATION_NAME=None
for _ in $(seq 1 24); do
    RECORD=$(aws acm describe-certificate --certificate-arn "$CERT_ARN" \
        --query 'Certificate.DomainValidationOptions[0].ResourceRecord.[Name,Value]' \
        --output text)
    read -r VALIDATION_NAME VALIDATION_VALUE <<<"$RECORD"
    if [ -n "$VALIDATION_NAME" ] && [ "$VALIDATION_NAME" != None ]; then
        break
    fi
    echo "waiting for the validation record..."
    sleep 5
done
if [ -z "$VALIDATION_NAME" ] || [ "$VALIDATION_NAME" = None ]; then
    die "ACM gave no validation record for $CERT_ARN within 2 minutes"
fi
aws route53 change-resource-record-sets --hosted-zone-id "$ZONE_ID" --change-batch "{
  \"Comment\": \"ACM validation for $DOMAIN\",
  \"Changes\": [{
    \"Action\": \"UPSERT\",
    \"ResourceRecordSet\": {
      \"Name\": \"$VALIDATION_NAME\",
      \"Type\": \"CNAME\",
      \"TTL\": 300,
      \"ResourceRecords\": [{\"Value\": \"$VALIDATION_VALUE\"}]
    }
  }]
}" >/dev/null
echo "validation record $VALIDATION_NAME -> $VALIDATION_VALUE"
# The CLI's waiter polls every 60 s and gives up after 5 polls; DNS validation can take
# longer, so wait again while the certificate is still pending (up to 3 times).
for attempt in 1 2 3; do
    if aws acm wait certificate-validated --certificate-arn "$CERT_ARN"; then
        break
    fi
    STATUS=$(aws acm describe-certificate --certificate-arn "$CERT_ARN" \
        --query Certificate.Status --output text)
    if [ "$STATUS" != PENDING_VALIDATION ] || [ "$attempt" = 3 ]; then
        die "certificate $CERT_ARN is $STATUS, not ISSUED"
    fi
done
echo "certificate issued"

step "Execution role"
ROLE_ARN=$(aws iam create-role --role-name "$STACK-role" \
    --assume-role-policy-document '{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"
  }]
}' --query Role.Arn --output text)
aws iam attach-role-policy --role-name "$STACK-role" \
    --policy-arn arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole
echo "role $ROLE_ARN"
echo "waiting 10 s for IAM propagation..."
sleep 10

step "Log group"
aws logs create-log-group --log-group-name "/aws/lambda/$STACK-api"
aws logs put-retention-policy --log-group-name "/aws/lambda/$STACK-api" --retention-in-days 14

step "Lambda function"
aws lambda create-function --function-name "$STACK-api" \
    --runtime provided.al2023 --handler bootstrap --architectures x86_64 \
    --role "$ROLE_ARN" --zip-file "fileb://$ZIP" \
    --memory-size 256 --timeout 10 \
    --query FunctionArn --output text
aws lambda wait function-active-v2 --function-name "$STACK-api"
VERSION=$(aws lambda publish-version --function-name "$STACK-api" \
    --query Version --output text)
ALIAS_ARN=$(aws lambda create-alias --function-name "$STACK-api" --name live \
    --function-version "$VERSION" --query AliasArn --output text)
echo "alias $ALIAS_ARN (version $VERSION)"

step "Target group"
TG_ARN=$(aws elbv2 create-target-group --name "$STACK-api" --target-type lambda \
    --query 'TargetGroups[0].TargetGroupArn' --output text)
aws lambda add-permission --function-name "$STACK-api" --qualifier live \
    --statement-id AllowElbInvoke --action lambda:InvokeFunction \
    --principal elasticloadbalancing.amazonaws.com --source-arn "$TG_ARN" >/dev/null
aws elbv2 register-targets --target-group-arn "$TG_ARN" --targets "Id=$ALIAS_ARN"
echo "target group $TG_ARN"

step "Listeners"
aws elbv2 create-listener --load-balancer-arn "$ALB_ARN" --protocol HTTP --port 80 \
    --default-actions '[{"Type":"redirect","RedirectConfig":{"Protocol":"HTTPS","Port":"443","StatusCode":"HTTP_301"}}]' \
    --query 'Listeners[0].ListenerArn' --output text
HTTPS_ARN=$(aws elbv2 create-listener --load-balancer-arn "$ALB_ARN" --protocol HTTPS --port 443 \
    --certificates "CertificateArn=$CERT_ARN" --ssl-policy ELBSecurityPolicy-TLS13-1-2-2021-06 \
    --default-actions '[{"Type":"fixed-response","FixedResponseConfig":{"StatusCode":"404","ContentType":"text/plain","MessageBody":"Not Found"}}]' \
    --query 'Listeners[0].ListenerArn' --output text)
echo "$HTTPS_ARN"
aws elbv2 create-rule --listener-arn "$HTTPS_ARN" --priority 10 \
    --conditions '[{"Field":"path-pattern","PathPatternConfig":{"Values":["/hello"]}}]' \
    --actions "Type=forward,TargetGroupArn=$TG_ARN" \
    --query 'Rules[0].RuleArn' --output text

step "DNS records for $DOMAIN"
ALB_INFO=$(aws elbv2 describe-load-balancers --load-balancer-arns "$ALB_ARN" \
    --query 'LoadBalancers[0].[DNSName,CanonicalHostedZoneId]' --output text)
read -r ALB_DNS ALB_ZONE_ID <<<"$ALB_INFO"
aws route53 change-resource-record-sets --hosted-zone-id "$ZONE_ID" --change-batch "{
  \"Comment\": \"$STACK: $DOMAIN to the load balancer\",
  \"Changes\": [
    {\"Action\": \"UPSERT\", \"ResourceRecordSet\": {\"Name\": \"$DOMAIN\", \"Type\": \"A\",
      \"AliasTarget\": {\"HostedZoneId\": \"$ALB_ZONE_ID\", \"DNSName\": \"dualstack.$ALB_DNS\", \"EvaluateTargetHealth\": false}}},
    {\"Action\": \"UPSERT\", \"ResourceRecordSet\": {\"Name\": \"$DOMAIN\", \"Type\": \"AAAA\",
      \"AliasTarget\": {\"HostedZoneId\": \"$ALB_ZONE_ID\", \"DNSName\": \"dualstack.$ALB_DNS\", \"EvaluateTargetHealth\": false}}}
  ]
}" >/dev/null
echo "$DOMAIN -> $ALB_DNS"

step "Waiting for the load balancer"
aws elbv2 wait load-balancer-available --load-balancer-arns "$ALB_ARN"

echo "https://$DOMAIN" >&3
