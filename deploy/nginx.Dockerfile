# nginx from Debian's package, configured for MindSync (deploy/nginx.conf).
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx-light \
    && rm -rf /var/lib/apt/lists/*
COPY deploy/nginx.conf /etc/nginx/nginx.conf
EXPOSE 8080
USER www-data
CMD ["nginx", "-g", "daemon off;", "-c", "/etc/nginx/nginx.conf"]
