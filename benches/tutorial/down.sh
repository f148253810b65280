#!/usr/bin/env bash
# Tutorial-style teardown of what up.sh (beside this file) builds.
#
# WHAT THIS IS: the matching, deliberately sequential teardown for the tutorial
# baseline of albkit's time-to-URL benchmark (see README.md beside it): one `aws`
# CLI call after another. It is NOT a supported way to manage a deployment.
# It finds everything by the names and tags up.sh gives ($STACK-vpc, $STACK-alb,
# $STACK-api, $STACK-role, $STACK-logs-<account>-<region>, certificate tag
# Name=$STACK-cert) and skips what is already gone, so it also cleans up after an
# up.sh that failed half-way.
#
# Inputs (environment): STACK, DOMAIN, ZONE_ID, AWS_REGION, and optionally
# AWS_ENDPOINT_URL (ZIP, which up.sh needs, is not used here).
set -euo pipefail

die() {
    echo "error: $*" >&2
    exit 1
}

for var in STACK DOMAIN ZONE_ID AWS_REGION; do
    [ -n "${!var:-}" ] || die "$var is not set (needed: STACK, DOMAIN, ZONE_ID, AWS_REGION; optional: AWS_ENDPOINT_URL)"
done
DOMAIN="${DOMAIN%.}"
FQDN="${DOMAIN,,}." # Route 53 names are lowercase with a trailing dot

# The AWS CLI v1 reads neither AWS_REGION (only AWS_DEFAULT_REGION) nor, before
# botocore 1.31, AWS_ENDPOINT_URL: pass both as flags on every call.
export AWS_PAGER=""
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

step "DNS records for $DOMAIN"
# Only the alias records that point at this stack's load balancer.
STACK_LC="${STACK,,}"
RECORDS=$(aws route53 list-resource-record-sets --hosted-zone-id "$ZONE_ID" \
    --query "ResourceRecordSets[?Name=='$FQDN' && (Type=='A' || Type=='AAAA') && AliasTarget].[Type,AliasTarget.HostedZoneId,AliasTarget.DNSName,AliasTarget.EvaluateTargetHealth]" \
    --output text)
while read -r TYPE ALIAS_ZONE ALIAS_DNS EVALUATE; do
    [ -n "$TYPE" ] || continue
    case "${ALIAS_DNS,,}" in
        "dualstack.$STACK_LC-alb-"* | "$STACK_LC-alb-"*) ;;
        *)
            echo "leaving $TYPE $FQDN -> $ALIAS_DNS (not $STACK-alb)"
            continue
            ;;
    esac
    aws route53 change-resource-record-sets --hosted-zone-id "$ZONE_ID" --change-batch "{
  \"Changes\": [{\"Action\": \"DELETE\", \"ResourceRecordSet\": {\"Name\": \"$FQDN\", \"Type\": \"$TYPE\",
    \"AliasTarget\": {\"HostedZoneId\": \"$ALIAS_ZONE\", \"DNSName\": \"$ALIAS_DNS\", \"EvaluateTargetHealth\": ${EVALUATE,,}}}}]
}" >/dev/null
    echo "deleted $TYPE $FQDN"
done <<<"$RECORDS"

step "Load balancer $STACK-alb (its listeners and rules go with it)"
ALB_ARN=$(aws elbv2 describe-load-balancers \
    --query "LoadBalancers[?LoadBalancerName=='$STACK-alb'].LoadBalancerArn" --output text)
if [ -n "$ALB_ARN" ]; then
    aws elbv2 delete-load-balancer --load-balancer-arn "$ALB_ARN"
    aws elbv2 wait load-balancers-deleted --load-balancer-arns "$ALB_ARN"
    echo "deleted $ALB_ARN"
fi

step "Target group $STACK-api"
TG_ARN=$(aws elbv2 describe-target-groups \
    --query "TargetGroups[?TargetGroupName=='$STACK-api'].TargetGroupArn" --output text)
if [ -n "$TG_ARN" ]; then
    aws elbv2 delete-target-group --target-group-arn "$TG_ARN"
    echo "deleted $TG_ARN"
fi

step "Lambda function $STACK-api (its versions, alias and permissions go with it)"
FUNCTION=$(aws lambda list-functions \
    --query "Functions[?FunctionName=='$STACK-api'].FunctionName" --output text)
if [ -n "$FUNCTION" ]; then
    aws lambda delete-function --function-name "$STACK-api" >/dev/null
    echo "deleted $STACK-api"
fi

step "Log group /aws/lambda/$STACK-api"
LOG_GROUP=$(aws logs describe-log-groups --log-group-name-prefix "/aws/lambda/$STACK-api" \
    --query "logGroups[?logGroupName=='/aws/lambda/$STACK-api'].logGroupName" --output text)
if [ -n "$LOG_GROUP" ]; then
    aws logs delete-log-group --log-group-name "/aws/lambda/$STACK-api"
    echo "deleted $LOG_GROUP"
fi

step "Role $STACK-role"
ROLE=$(aws iam list-roles --query "Roles[?RoleName=='$STACK-role'].RoleName" --output text)
if [ -n "$ROLE" ]; then
    ATTACHED=$(aws iam list-attached-role-policies --role-name "$STACK-role" \
        --query 'AttachedPolicies[].PolicyArn' --output text)
    for POLICY_ARN in $ATTACHED; do
        aws iam detach-role-policy --role-name "$STACK-role" --policy-arn "$POLICY_ARN"
    done
    aws iam delete-role --role-name "$STACK-role"
    echo "deleted $STACK-role"
fi

step "Certificate for $DOMAIN tagged Name=$STACK-cert"
CERT_ARNS=$(aws acm list-certificates \
    --query "CertificateSummaryList[?DomainName=='$DOMAIN'].CertificateArn" --output text)
VALIDATION_NAME=""
for CERT_ARN in $CERT_ARNS; do
    TAG=$(aws acm list-tags-for-certificate --certificate-arn "$CERT_ARN" \
        --query "Tags[?Key=='Name'].Value" --output text)
    [ "$TAG" = "$STACK-cert" ] || continue
    RECORD=$(aws acm describe-certificate --certificate-arn "$CERT_ARN" \
        --query 'Certificate.DomainValidationOptions[0].ResourceRecord.[Name,Type]' \
        --output text)
    read -r VALIDATION_NAME VALIDATION_TYPE <<<"$RECORD"
    # Just after the load balancer is deleted, ACM can still count the certificate
    # as in use for a while: try again every 10 s, for up to 5 minutes.
    for attempt in $(seq 1 30); do
        if aws acm delete-certificate --certificate-arn "$CERT_ARN"; then
            echo "deleted $CERT_ARN"
            break
        fi
        [ "$attempt" -lt 30 ] || die "could not delete $CERT_ARN"
        echo "certificate still in use, retrying in 10 s..."
        sleep 10
    done
done
# The validation CNAME is the same for every certificate of DOMAIN in this account:
# delete it only when no other certificate for DOMAIN is left here.
if [ -n "$VALIDATION_NAME" ] && [ "$VALIDATION_NAME" != None ]; then
    OTHERS=$(aws acm list-certificates \
        --query "CertificateSummaryList[?DomainName=='$DOMAIN'].CertificateArn" --output text)
    if [ -n "$OTHERS" ]; then
        echo "leaving the validation record $VALIDATION_NAME: other certificates for $DOMAIN use it"
    else
        CNAME=$(aws route53 list-resource-record-sets --hosted-zone-id "$ZONE_ID" \
            --query "ResourceRecordSets[?Name=='${VALIDATION_NAME,,}' && Type=='$VALIDATION_TYPE'].[TTL,ResourceRecords[0].Value]" \
            --output text)
        read -r TTL VALUE <<<"$CNAME"
        if [ -n "${TTL:-}" ]; then
            aws route53 change-resource-record-sets --hosted-zone-id "$ZONE_ID" --change-batch "{
  \"Changes\": [{\"Action\": \"DELETE\", \"ResourceRecordSet\": {\"Name\": \"$VALIDATION_NAME\",
    \"Type\": \"$VALIDATION_TYPE\", \"TTL\": $TTL, \"ResourceRecords\": [{\"Value\": \"$VALUE\"}]}}]
}" >/dev/null
            echo "deleted $VALIDATION_TYPE $VALIDATION_NAME"
        fi
    fi
fi

step "Access-log bucket"
ACCOUNT_ID=$(aws sts get-caller-identity --query Account --output text)
BUCKET="$STACK-logs-$ACCOUNT_ID-$AWS_REGION"
BUCKET="${BUCKET,,}"
FOUND=$(aws s3api list-buckets --query "Buckets[?Name=='$BUCKET'].Name" --output text)
if [ -n "$FOUND" ]; then
    aws s3 rm "s3://$BUCKET" --recursive
    aws s3api delete-bucket --bucket "$BUCKET"
    echo "deleted $BUCKET"
fi

step "VPC $STACK-vpc"
VPC_IDS=$(aws ec2 describe-vpcs --filters "Name=tag:Name,Values=$STACK-vpc" \
    --query 'Vpcs[].VpcId' --output text)
for VPC_ID in $VPC_IDS; do
    # The load balancer's network interfaces outlive it by a few minutes and block
    # the security group, the subnets and the internet gateway until they are gone.
    for attempt in $(seq 1 60); do
        ENIS=$(aws ec2 describe-network-interfaces \
            --filters "Name=vpc-id,Values=$VPC_ID" "Name=description,Values=ELB app/$STACK-alb/*" \
            --query 'NetworkInterfaces[].NetworkInterfaceId' --output text)
        [ -n "$ENIS" ] || break
        [ "$attempt" -lt 60 ] || die "the load balancer's network interfaces are still there: $ENIS"
        echo "waiting for the load balancer's network interfaces to go: $ENIS"
        sleep 10
    done

    SG_IDS=$(aws ec2 describe-security-groups \
        --filters "Name=vpc-id,Values=$VPC_ID" "Name=group-name,Values=$STACK-alb-sg" \
        --query 'SecurityGroups[].GroupId' --output text)
    for SG_ID in $SG_IDS; do
        aws ec2 delete-security-group --group-id "$SG_ID"
        echo "deleted $SG_ID"
    done

    RTB_IDS=$(aws ec2 describe-route-tables \
        --filters "Name=vpc-id,Values=$VPC_ID" "Name=tag:Name,Values=$STACK-public-rt" \
        --query 'RouteTables[].RouteTableId' --output text)
    for RTB_ID in $RTB_IDS; do
        ASSOCIATION_IDS=$(aws ec2 describe-route-tables --route-table-ids "$RTB_ID" \
            --query 'RouteTables[0].Associations[?!Main].RouteTableAssociationId' --output text)
        for ASSOCIATION_ID in $ASSOCIATION_IDS; do
            aws ec2 disassociate-route-table --association-id "$ASSOCIATION_ID"
        done
        aws ec2 delete-route-table --route-table-id "$RTB_ID"
        echo "deleted $RTB_ID"
    done

    SUBNET_IDS=$(aws ec2 describe-subnets --filters "Name=vpc-id,Values=$VPC_ID" \
        --query 'Subnets[].SubnetId' --output text)
    for SUBNET_ID in $SUBNET_IDS; do
        aws ec2 delete-subnet --subnet-id "$SUBNET_ID"
        echo "deleted $SUBNET_ID"
    done

    IGW_IDS=$(aws ec2 describe-internet-gateways \
        --filters "Name=attachment.vpc-id,Values=$VPC_ID" \
        --query 'InternetGateways[].InternetGatewayId' --output text)
    for IGW_ID in $IGW_IDS; do
        aws ec2 detach-internet-gateway --internet-gateway-id "$IGW_ID" --vpc-id "$VPC_ID"
        aws ec2 delete-internet-gateway --internet-gateway-id "$IGW_ID"
        echo "deleted $IGW_ID"
    done

    aws ec2 delete-vpc --vpc-id "$VPC_ID"
    echo "deleted $VPC_ID"
done

step "Done: $STACK is gone"
